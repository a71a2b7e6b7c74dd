"""The state sync: ask Stripe for recent invoices, payments and refunds, and feed every state our mirror
doesn't know yet through the inbox, exactly as if Stripe had sent a webhook for it.

This is what catches a missed webhook, and the failures localstripe (and, now and then, real Stripe)
never sends one for: a declined renewal leaves its invoice ``open`` with a failed attempt, and the sync
turns that into an ``invoice.payment_failed`` event for the same handlers.

Each state becomes an inbox event with a deterministic id (``sync:<object id>:<state>``), so running the
sync twice, or beside the webhook, can't create a second event for one state, and the handlers' row
locks make the webhook's copy and the sync's copy post once between them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.actors import Actor
from billing.models import EventSource, StripeCustomer, StripeEvent, StripePayment, StripeRefund
from billing.services.audit import audit_record

from . import gateway
from . import types as t
from .errors import StripeObjectMissing
from .inbox import inbox_nudge

OPEN_STATES = ("draft", "open", "uncollectible", "requires_action", "requires_confirmation", "processing")
RECHECK_LIMIT = 200


@dataclass
class SyncResult:
    seen: int = 0
    queued: int = 0
    unknown_customer: int = 0
    already_known: int = 0
    queued_ids: list[str] = field(default_factory=list)


def invoice_event_type(invoice: t.Invoice) -> str | None:
    if invoice.status == "paid":
        return "invoice.paid"
    if invoice.status == "void":
        return "invoice.voided"
    if invoice.status == "uncollectible":
        return "invoice.marked_uncollectible"
    if invoice.payment_failed:
        return "invoice.payment_failed"
    return None  # a draft, or open and not yet attempted: nothing to act on


def intent_event_type(intent: t.PaymentIntent) -> str | None:
    if intent.invoice_id:
        return None  # its invoice carries it
    if intent.status == "succeeded":
        return "payment_intent.succeeded"
    if intent.status == "canceled":
        return "payment_intent.canceled"
    if intent.status == "requires_payment_method" and intent.failure is not None:
        return "payment_intent.payment_failed"
    return None


def _synthetic(event_type: str, obj: dict, state: str, customer_id: str) -> StripeEvent:
    stripe_id = f"sync:{obj['id']}:{state}"[:255]
    now = timezone.now()
    payload = {
        "id": stripe_id,
        "object": "event",
        "type": event_type,
        "created": int(now.timestamp()),
        "livemode": bool(obj.get("livemode")),
        "data": {"object": obj},
    }
    return StripeEvent(
        stripe_id=stripe_id,
        type=event_type,
        source=EventSource.SYNC,
        stripe_created=now,
        object_id=str(obj["id"])[:255],
        customer_id=customer_id[:255],
        payload=json.dumps(payload, separators=(",", ":")),
    )


def sync_record(
    *,
    invoices: Iterable[t.Invoice] = (),
    intents: Iterable[t.PaymentIntent] = (),
    refunds: Iterable[t.Refund] = (),
    by: Actor,
) -> SyncResult:
    """Queue an inbox event for every object state our mirror doesn't already reflect. A fixed number of
    queries whatever the number of objects; the worker then processes the events."""
    invoices, intents, refunds = list(invoices), list(intents), list(refunds)
    result = SyncResult(seen=len(invoices) + len(intents) + len(refunds))
    customer_ids = {o.customer_id for o in [*invoices, *intents] if o.customer_id}
    known = set(StripeCustomer.objects.filter(stripe_id__in=customer_ids).values_list("stripe_id", flat=True))
    mirror = {
        row["stripe_id"]: row
        for row in StripePayment.objects.filter(stripe_id__in=[o.id for o in [*invoices, *intents]]).values(
            "stripe_id", "status", "attempt_count", "ledger_entry_id"
        )
    }
    refund_mirror = dict(
        StripeRefund.objects.filter(stripe_id__in=[r.id for r in refunds]).values_list("stripe_id", "status")
    )
    pay_q = Q(pk__in=[])
    for r in refunds:
        if r.payment_intent_id:
            pay_q |= Q(payment_intent_id=r.payment_intent_id)
        if r.charge_id:
            pay_q |= Q(charge_id=r.charge_id)
    ours = StripePayment.objects.filter(pay_q).values_list("payment_intent_id", "charge_id") if refunds else []
    our_refs = {ref for pair in ours for ref in pair if ref}

    events: list[StripeEvent] = []
    for obj, event_type, state in [
        *((i, invoice_event_type(i), f"{i.status}:{i.attempt_count}") for i in invoices),
        *((p, intent_event_type(p), p.status) for p in intents),
    ]:
        if event_type is None:
            continue
        if obj.customer_id not in known:
            result.unknown_customer += 1
            continue
        known_row = mirror.get(obj.id)
        if (
            known_row is not None
            and known_row["status"] == obj.status
            and known_row["attempt_count"] >= getattr(obj, "attempt_count", 0)
            and (obj.status not in ("paid", "succeeded") or known_row["ledger_entry_id"])
        ):
            result.already_known += 1
            continue
        events.append(_synthetic(event_type, obj.raw, state, obj.customer_id))
    for refund in refunds:
        if refund.payment_intent_id not in our_refs and refund.charge_id not in our_refs:
            result.unknown_customer += 1
            continue
        if refund_mirror.get(refund.id) == refund.status:
            result.already_known += 1
            continue
        events.append(_synthetic("refund.updated", refund.raw, refund.status, ""))
    if events:
        with transaction.atomic():
            before = set(
                StripeEvent.objects.filter(stripe_id__in=[e.stripe_id for e in events]).values_list(
                    "stripe_id", flat=True
                )
            )
            StripeEvent.objects.bulk_create(events, ignore_conflicts=True)
            result.queued_ids = [e.stripe_id for e in events if e.stripe_id not in before]
            result.queued = len(result.queued_ids)
            if result.queued:
                audit_record(
                    actor=by,
                    verb="stripe.sync.queued",
                    after={"queued": result.queued, "events": result.queued_ids[:50]},
                    reason="states no webhook had told us about",
                )
                inbox_nudge()
    return result


def sync_recent(*, since: datetime, by: Actor) -> SyncResult:
    """List Stripe's invoices, payments and refunds created since ``since`` (plus every invoice or
    payment we still hold as open, whatever its age) and queue what's new. Raises StripeUnavailable
    when Stripe can't be reached; nothing is written then."""
    invoices = list(gateway.list_invoices(since))
    intents = list(gateway.list_payment_intents(since))
    refunds = list(gateway.list_refunds(since))
    listed = {o.id for o in [*invoices, *intents]}
    older_open = (
        StripePayment.objects.filter(status__in=OPEN_STATES, stripe_created__lt=since)
        .exclude(stripe_id__in=listed)
        .order_by("-stripe_created")
        .values_list("stripe_id", "kind")[:RECHECK_LIMIT]
    )
    for stripe_id, kind in older_open:
        try:
            if kind == "invoice":
                invoices.append(gateway.invoice_retrieve(stripe_id))
            else:
                intents.append(gateway.payment_intent_retrieve(stripe_id))
        except StripeObjectMissing:  # deleted at Stripe (or a demo's localstripe restarted): nothing to sync
            continue
    return sync_record(invoices=invoices, intents=intents, refunds=refunds, by=by)


def sync_refunds_of(payment_intent_id: str, *, by: Actor) -> SyncResult:
    """Fetch one payment's refunds (a ``charge.refunded`` payload that didn't list them)."""
    return sync_record(refunds=gateway.list_refunds_for_payment_intent(payment_intent_id), by=by)


def default_since(hours: int) -> datetime:
    return timezone.now() - timedelta(hours=hours)
