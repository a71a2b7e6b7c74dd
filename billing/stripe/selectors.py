"""Reads for the Stripe pages and panels: each a fixed number of queries whatever the amount of data."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from billing.models import (
    NEEDS_ATTENTION,
    EventStatus,
    Patient,
    StripeCustomer,
    StripeEvent,
    StripePayment,
    StripeReconciliation,
)


def events_list(*, status: str = "", event_type: str = "", q: str = "") -> QuerySet:
    """The inbox, newest first. ``status="attention"`` means failed, waiting or unknown customer. The
    payload is deferred: a list never needs it."""
    qs = StripeEvent.objects.defer("payload")
    if status == "attention":
        qs = qs.filter(status__in=NEEDS_ATTENTION)
    elif status:
        qs = qs.filter(status=status)
    if event_type:
        qs = qs.filter(type__startswith=event_type)
    if q:
        qs = qs.filter(stripe_id=q) | qs.filter(object_id=q) | qs.filter(customer_id=q)
    return qs.order_by("-id")


def event_status_counts() -> dict[str, int]:
    rows = StripeEvent.objects.values("status").annotate(n=Count("id")).order_by()
    counts = dict.fromkeys(EventStatus.values, 0)
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def reconciliation_latest() -> StripeReconciliation | None:
    return StripeReconciliation.objects.order_by("-started_at", "-id").first()


def household_card_payments(*, guarantor: Patient, limit: int = 20) -> list[StripePayment]:
    """The household's card payments, newest first, each with ``refunded_cents`` and ``refundable``."""
    rows = list(
        StripePayment.objects.filter(guarantor=guarantor, ledger_entry__isnull=False)
        .select_related("patient", "taken_by", "ledger_entry")
        .prefetch_related("refunds")
        .order_by("-paid_at", "-id")[:limit]
    )
    for row in rows:
        row.refunded_cents = sum(r.amount_cents for r in row.refunds.all() if r.status == "succeeded")
        pending = sum(r.amount_cents for r in row.refunds.all() if r.status not in ("succeeded", "failed", "canceled"))
        row.refundable_cents = max(row.amount_paid_cents - row.refunded_cents - pending, 0)
    return rows


def customer_for(*, guarantor: Patient) -> StripeCustomer | None:
    return StripeCustomer.objects.filter(guarantor=guarantor).first()
