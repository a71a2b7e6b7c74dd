"""Moving time forward for the demo and the tests: localstripe never renews a subscription by itself,
so ``manage.py stripe_advance --days N`` bills the renewals that N days would bring, by creating and
paying each subscription's next invoice (Stripe then sends its usual webhooks).

It refuses to run against real Stripe: only a local API base (localstripe) and a test key will do.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.models import StripeCustomer

from . import gateway
from .errors import StripeRequestRefused

INTERVAL_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}


@dataclass(frozen=True)
class Renewal:
    subscription_id: str
    invoice_id: str
    status: str
    amount_cents: int


def advance_refusal() -> str:
    """Why this helper must not run here, or "" when it may."""
    cfg = gateway.config()
    if not cfg.enabled:
        return "STRIPE_SECRET_KEY is not set."
    if cfg.is_live_key:
        return "STRIPE_SECRET_KEY is a live key; stripe_advance only runs against localstripe."
    if not cfg.is_local:
        return f"STRIPE_API_BASE is {cfg.api_base}, not a local localstripe; stripe_advance refuses real Stripe."
    return ""


def stripe_advance(*, days: int) -> list[Renewal]:
    """Bill, for every active subscription of our customers, each renewal that falls within ``days`` of
    its last bill (a monthly plan every 30 days, weekly every 7, yearly every 365). Partial periods
    don't carry over between runs: ``--days 30`` twice bills two monthly renewals, ``--days 10`` none."""
    refusal = advance_refusal()
    if refusal:
        raise StripeRequestRefused(refusal)
    if days <= 0:
        return []
    ours = set(StripeCustomer.objects.values_list("stripe_id", flat=True))
    renewals: list[Renewal] = []
    for sub in gateway.subscriptions_active():
        if sub.customer_id not in ours:
            continue
        period = INTERVAL_DAYS.get(sub.interval, 30) * max(sub.interval_count, 1)
        billed = len(gateway.invoices_for_subscription(sub.id))
        for n in range(days // period):
            invoice = gateway.invoice_create_and_pay(
                customer_id=sub.customer_id,
                subscription_id=sub.id,
                idempotency_key=f"chairside-advance-{sub.id}-{billed + n}",
            )
            renewals.append(Renewal(sub.id, invoice.id, invoice.status, invoice.amount_due_cents))
    return renewals
