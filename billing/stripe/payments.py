"""Applying Stripe's state to our mirror, and posting what it means to the ledger, once.

Every function here takes an object's *state* (an invoice and its status, a payment intent and its
status, a refund, a dispute), locks our mirror row for that object, compares, and acts only on what is
new. So a webhook, the periodic sync, a replay and the desk flow can all feed the same object, any
number of times and in any order, and the ledger gets one entry. The ledger's unique (source,
external_ref) is the last guarantee underneath.

Statuses only move forward: a stale snapshot (an ``open`` invoice delivered after its ``paid`` one)
changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q

from billing.actors import Actor
from billing.clock import practice_zone
from billing.models import (
    EntryKind,
    EntrySource,
    EventStatus,
    Patient,
    PaymentKind,
    PaymentOrigin,
    Role,
    StaffTask,
    StripeCustomer,
    StripeDispute,
    StripeEvent,
    StripePayment,
    StripeRefund,
    TaskPriority,
    TaskStatus,
)
from billing.money import format_cents
from billing.notifications.services import notify
from billing.services.audit import audit_record
from billing.services.ledger import ledger_post_once, ledger_reverse_failed_refund
from billing.services.staff_tasks import task_open, task_resolve

from . import memos
from . import types as t
from .batch import in_batch, remember, remembered
from .customers import customer_by_stripe_id
from .errors import WaitForObject, decline_message

INVOICE_RANK = {"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 3}
INTENT_RANK = {
    "requires_payment_method": 0,
    "requires_confirmation": 1,
    "requires_action": 1,
    "processing": 2,
    "requires_capture": 2,
    "succeeded": 3,
    "canceled": 3,
}
REFUND_RANK = {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}
DESK_KIND = "desk_payment"


def _zone() -> ZoneInfo:
    return remembered(("zone",), practice_zone)


def _local_date(when: datetime) -> date:
    return when.astimezone(_zone()).date()


CUSTOMER_RELATED = ("guarantor__household__guarantor", "guarantor__home_location")


def _customer(stripe_id: str) -> StripeCustomer:
    return remembered(("customer", stripe_id), lambda: customer_by_stripe_id(stripe_id))


def prime_customers(stripe_ids: set[str]) -> None:
    """Load a batch's customers in one query (the inbox worker calls this)."""
    if not stripe_ids:
        return
    rows = StripeCustomer.objects.select_related(*CUSTOMER_RELATED).filter(stripe_id__in=stripe_ids)
    for row in rows:
        remember(("customer", row.stripe_id), row)


def _patient_for(customer: StripeCustomer, metadata: dict) -> Patient:
    """Who the entry is for: the patient named in our metadata when they belong to the customer's
    household (a payment taken on a child's page), else the guarantor."""
    wanted = str(metadata.get("chairside_patient_id") or "")
    # ASCII digits only ("²".isdigit() is true), and short enough to be a primary key.
    if wanted.isascii() and wanted.isdigit() and len(wanted) <= 18 and int(wanted) != customer.guarantor_id:
        patient = Patient.objects.filter(pk=int(wanted), household_id=customer.guarantor.household_id).first()
        if patient is not None:
            return patient
    return customer.guarantor


def _lock(model, *, stripe_id: str, defaults: dict):
    """Our mirror row for a Stripe object, created if new and locked for this transaction. The INSERT
    skips a row that exists (ON CONFLICT DO NOTHING); when two workers create it at once, the second's
    INSERT waits for the first to commit, and its SELECT … FOR UPDATE then locks the first's row."""
    model.objects.bulk_create([model(stripe_id=stripe_id, **defaults)], ignore_conflicts=True)
    return model.objects.select_for_update().get(stripe_id=stripe_id)


def _lock_payment(*, stripe_id: str, customer: StripeCustomer, defaults: dict) -> StripePayment:
    row = _lock(StripePayment, stripe_id=stripe_id, defaults=defaults)
    # Most payments are the guarantor's own: reuse the customer's already loaded guarantor (with its
    # household and location) instead of loading it again per event.
    if row.guarantor_id == customer.guarantor_id:
        row.guarantor = customer.guarantor
    if row.patient_id == customer.guarantor_id:
        row.patient = customer.guarantor
    return row


# --- Lock order ---------------------------------------------------------------------------------------------
# An inbox batch is one transaction, so a worker holds every mirror row it locked until the batch commits.
# Two workers whose batches lock the same rows in different orders (invoice A then B, and B then A: the
# two events of one invoice split between their batches) deadlock. So a batch runs its events in the
# order of the payment row each one locks: every worker then takes rows in one global order.
LAST = "\uffff"  # sorts after every Stripe id


def _ref(value) -> str:
    return str(value.get("id") or "") if isinstance(value, dict) else str(value or "")


def _payment_refs(event_type: str, obj: dict) -> tuple[str, list[str]]:
    """(the payment row's own id if the event names it, else the references its payment is found by)."""
    if event_type.startswith("invoice."):
        return _ref(obj.get("id")), []
    if event_type.startswith("payment_intent."):
        return _ref(obj.get("invoice")) or _ref(obj.get("id")), []
    refs = [_ref(obj.get("payment_intent")), _ref(obj.get("charge"))]
    if obj.get("object") == "charge":  # charge.refunded: the charge itself
        refs.append(_ref(obj.get("id")))
    return "", [r for r in refs if r]


def lock_order(items: list[tuple[str, dict | None]]) -> list[tuple]:
    """A sort key per (event type, object) of a batch: the Stripe id of the payment row its handler will
    lock first (an invoice, a stand-alone payment intent, or the payment a refund or dispute belongs to,
    looked up in one query). Events that lock no payment row, or whose payment isn't known yet (they will
    wait for it without locking it), go last."""
    wanted = {ref for event_type, obj in items if obj is not None for ref in _payment_refs(event_type, obj)[1]}
    owners: dict[str, str] = {}
    if wanted:
        rows = StripePayment.objects.filter(
            Q(payment_intent_id__in=wanted) | Q(charge_id__in=wanted) | Q(stripe_id__in=wanted)
        ).values_list("stripe_id", "payment_intent_id", "charge_id")
        for stripe_id, intent_id, charge_id in rows:
            for ref in (stripe_id, intent_id, charge_id):
                if ref in wanted:
                    owners[ref] = min(owners.get(ref, stripe_id), stripe_id)
    keys = []
    for event_type, obj in items:
        own, refs = _payment_refs(event_type, obj) if obj is not None else ("", [])
        payment = own or next((owners[r] for r in refs if r in owners), "")
        keys.append((payment or LAST, str((obj or {}).get("id") or "")))
    return keys


def _wake_waiting(*ids: str) -> None:
    """Events that waited for this object (a refund that came before its payment) can run now, once this
    transaction has committed (see ``wake_waiting_for``). Inside an inbox batch the batch does it after
    its commit, for everything it posted."""
    ids = {i for i in ids if i}
    if not ids:
        return
    posted = remembered(("posted",), set)
    if in_batch():
        posted.update(ids)
    else:
        transaction.on_commit(lambda: wake_waiting_for(ids) and _nudge())


def _nudge() -> None:
    from .inbox import inbox_nudge

    inbox_nudge()


def wake_waiting_for(ids: set[str]) -> int:
    """Move events waiting for any of these objects back to the queue. Run after the commit that made
    the objects visible; the waiting side re-checks after its own commit (``waiting_ready``), so one of
    the two always sees the other, however two workers interleave."""
    if not ids:
        return 0
    return StripeEvent.objects.filter(status=EventStatus.WAITING, waiting_for__in=list(ids)).update(
        status=EventStatus.RECEIVED, next_attempt_at=None
    )


def waiting_ready(waiting_for: set[str]) -> set[str]:
    """Which of these awaited objects are payments on the ledger by now."""
    if not waiting_for:
        return set()
    rows = StripePayment.objects.filter(ledger_entry__isnull=False).filter(
        Q(stripe_id__in=waiting_for) | Q(payment_intent_id__in=waiting_for) | Q(charge_id__in=waiting_for)
    )
    return waiting_for & {ref for row in rows.values_list("stripe_id", "payment_intent_id", "charge_id") for ref in row}


def _post_payment(row: StripePayment, *, amount_cents: int, when: datetime, memo: str, by: Actor) -> bool:
    entry, created = ledger_post_once(
        source=EntrySource.STRIPE,
        external_ref=row.stripe_id,
        patient=row.patient,
        kind=EntryKind.PAYMENT,
        amount_cents=-amount_cents,
        effective_date=_local_date(when),
        code=row.code,
        memo=memo[:500],
        by=by,
    )
    row.ledger_entry = entry
    _wake_waiting(row.stripe_id, row.payment_intent_id, row.charge_id)
    return created


# --- Invoices ---------------------------------------------------------------------------------------------
@transaction.atomic(savepoint=False)
def invoice_apply(invoice: t.Invoice, *, by: Actor) -> StripePayment:
    """Bring our mirror of an invoice up to Stripe's state. A paid invoice posts one payment for its
    amount paid, dated the day it was paid (in the practice's zone), with the plan code of its lines. A
    failed collection attempt runs the failure handling once per attempt. Raises UnknownCustomer for an
    invoice of a customer that isn't ours (nothing written)."""
    customer = _customer(invoice.customer_id)
    row = _lock_payment(
        stripe_id=invoice.id,
        customer=customer,
        defaults={
            "kind": PaymentKind.INVOICE,
            "customer": customer,
            "guarantor": customer.guarantor,
            "patient": _patient_for(customer, invoice.metadata),
            "status": invoice.status,
            "stripe_created": invoice.created,
            "code": invoice.code,
        },
    )
    if INVOICE_RANK.get(invoice.status, 0) < INVOICE_RANK.get(row.status, 0):
        return row  # a stale snapshot: we already know a later state
    row.status = invoice.status
    row.amount_cents = invoice.amount_due_cents
    row.amount_paid_cents = max(row.amount_paid_cents, invoice.amount_paid_cents)
    row.currency = invoice.currency
    row.subscription_id = invoice.subscription_id or row.subscription_id
    row.payment_intent_id = invoice.payment_intent_id or row.payment_intent_id
    row.charge_id = invoice.charge_id or row.charge_id
    row.code = row.code or invoice.code
    row.attempt_count = max(row.attempt_count, invoice.attempt_count)
    if invoice.failure is not None:
        row.failure_code = (invoice.failure.decline_code or invoice.failure.code)[:64]
        row.failure_message = invoice.failure.message[:500]
    if invoice.status == "paid":
        row.paid_at = invoice.paid_at or row.paid_at or invoice.created
        if invoice.amount_paid_cents > 0 and row.ledger_entry_id is None:
            _post_payment(
                row,
                amount_cents=invoice.amount_paid_cents,
                when=row.paid_at,
                memo=memos.invoice_payment_memo(invoice),
                by=by,
            )
            _resolve_failure_tasks(row, by=by)
    elif invoice.payment_failed and invoice.attempt_count > row.failure_handled_attempt:
        row.failure_handled_attempt = invoice.attempt_count
        _payment_failed(row, failure=invoice.failure, attempt=invoice.attempt_count, by=by)
    row.save()
    return row


def _payment_failed(row: StripePayment, *, failure: t.Failure | None, attempt: int, by: Actor) -> None:
    """A collection attempt failed: the front desk gets one task per attempt, and the audit trail a line."""
    reason = decline_message(failure.code, failure.decline_code, "") if failure else decline_message()
    amount = f"{format_cents(row.amount_cents)}"
    task_open(
        kind="stripe.payment_failed",
        title=f"Card declined: {amount} for {row.guarantor.full_name}",
        detail=f"{reason}\nAutomatic card payment of {amount}, attempt {attempt}. Ask for an updated card.",
        patient=row.guarantor,
        role=Role.FRONT_DESK,
        priority=TaskPriority.HIGH,
        context={"stripe_id": row.stripe_id, "attempt": attempt, "code": row.failure_code},
        dedupe_key=f"stripe.payment_failed:{row.stripe_id}:{attempt}",
        by=by,
    )
    audit_record(
        actor=by,
        verb="stripe.payment_failed",
        target=row,
        patient=row.guarantor,
        after={"stripe_id": row.stripe_id, "attempt": attempt, "code": row.failure_code},
        reason=reason,
    )


def _resolve_failure_tasks(row: StripePayment, *, by: Actor) -> None:
    if row.failure_handled_attempt == 0:
        return
    open_tasks = StaffTask.objects.filter(
        status=TaskStatus.OPEN, dedupe_key__startswith=f"stripe.payment_failed:{row.stripe_id}:"
    )
    for task in open_tasks:
        task_resolve(task=task, by=by, note="Paid at Stripe on a later attempt.")


# --- Payment intents (payments not made by an invoice: the desk, or Stripe's dashboard) -------------------
@transaction.atomic(savepoint=False)
def intent_apply(
    intent: t.PaymentIntent, *, by: Actor, taken_by=None, card: t.Card | None = None
) -> StripePayment | None:
    """Bring our mirror of a stand-alone payment up to Stripe's state; a succeeded payment posts one
    payment entry (and, for a desk payment, one receipt). A payment made by an invoice returns None:
    its invoice posts it, so a payment is never counted twice."""
    if intent.invoice_id:
        return None
    customer = _customer(intent.customer_id)
    desk = intent.metadata.get("chairside_kind") == DESK_KIND
    row = _lock_payment(
        stripe_id=intent.id,
        customer=customer,
        defaults={
            "kind": PaymentKind.PAYMENT_INTENT,
            "origin": PaymentOrigin.DESK if desk else PaymentOrigin.STRIPE,
            "customer": customer,
            "guarantor": customer.guarantor,
            "patient": _patient_for(customer, intent.metadata),
            "status": intent.status,
            "payment_intent_id": intent.id,
            "stripe_created": intent.created,
            "code": str(intent.metadata.get("chairside_code") or "")[:32],
        },
    )
    if taken_by is not None and row.taken_by_id is None:
        row.taken_by = taken_by
    card = card or intent.card
    if card is not None and card.last4:
        row.card_brand, row.card_last4 = card.brand[:32], card.last4[:4]
    if INTENT_RANK.get(intent.status, 0) < INTENT_RANK.get(row.status, 0):
        if row.taken_by_id is not None or card is not None:
            row.save()
        return row
    row.status = intent.status
    row.amount_cents = intent.amount_cents
    row.amount_paid_cents = max(row.amount_paid_cents, intent.amount_received_cents)
    row.currency = intent.currency
    row.charge_id = intent.charge_id or row.charge_id
    if intent.failure is not None and intent.status != "succeeded":
        row.failure_code = (intent.failure.decline_code or intent.failure.code)[:64]
        row.failure_message = intent.failure.message[:500]
    if intent.status == "succeeded" and intent.amount_received_cents > 0 and row.ledger_entry_id is None:
        row.paid_at = intent.paid_at
        words = memos.desk_payment_memo if desk else memos.card_payment_memo
        memo = words(brand=row.card_brand, last4=row.card_last4)
        posted = _post_payment(row, amount_cents=intent.amount_received_cents, when=intent.paid_at, memo=memo, by=by)
        if posted and desk:
            _send_receipt(row, by=by)
    row.save()
    return row


def _send_receipt(row: StripePayment, *, by: Actor) -> None:
    guarantor = row.guarantor
    notify(
        template="billing/payment_receipt",
        context={
            "first_name": guarantor.preferred_name or guarantor.first_name,
            "amount_cents": row.amount_paid_cents,
            "paid_on": _local_date(row.paid_at).isoformat(),
            "card": f"{(row.card_brand or 'card').title()} ending {row.card_last4}" if row.card_last4 else "card",
            "reference": row.stripe_id,
        },
        patient=guarantor,
        dedupe_key=f"stripe.receipt:{row.stripe_id}",
        by=by,
    )


# --- Refunds ----------------------------------------------------------------------------------------------
def _payment_for(*, payment_intent_id: str = "", charge_id: str = "") -> StripePayment | None:
    q = Q()
    if payment_intent_id:
        q |= Q(payment_intent_id=payment_intent_id) | Q(stripe_id=payment_intent_id)
    if charge_id:
        q |= Q(charge_id=charge_id)
    if not q:
        return None
    return StripePayment.objects.select_for_update(of=("self",)).select_related("ledger_entry").filter(q).first()


@transaction.atomic(savepoint=False)
def refund_apply(refund: t.Refund, *, by: Actor, requested_by=None, reason: str = "") -> StripeRefund:
    """Bring our mirror of a refund up to Stripe's state. A succeeded refund posts one REFUND entry
    linked to the payment's entry; a refund Stripe later reports failed is reversed once. A refund of a
    payment not on our ledger yet raises WaitForObject: the event waits and runs when the payment posts."""
    payment = _payment_for(payment_intent_id=refund.payment_intent_id, charge_id=refund.charge_id)
    if payment is None or payment.ledger_entry_id is None:
        raise WaitForObject(
            refund.payment_intent_id or refund.charge_id,
            f"Refund {refund.id} is for a payment that is not on the ledger yet.",
        )
    row = _lock(
        StripeRefund,
        stripe_id=refund.id,
        defaults={
            "payment": payment,
            "status": refund.status,
            "amount_cents": refund.amount_cents,
            "currency": refund.currency,
            "reason": reason[:500],
            "requested_by": requested_by,
            "stripe_created": refund.created,
        },
    )
    if requested_by is not None and row.requested_by_id is None:
        row.requested_by, row.reason = requested_by, row.reason or reason[:500]
    if REFUND_RANK.get(refund.status, 0) < REFUND_RANK.get(row.status, 0):
        row.save()
        return row
    row.status = refund.status
    row.amount_cents = refund.amount_cents
    if refund.status == "succeeded" and row.ledger_entry_id is None:
        entry, _ = ledger_post_once(
            source=EntrySource.STRIPE,
            external_ref=refund.id,
            patient=payment.ledger_entry.patient,
            kind=EntryKind.REFUND,
            amount_cents=refund.amount_cents,
            effective_date=_local_date(refund.created),
            code=payment.code,
            memo=memos.refund_memo(paid_on=payment.ledger_entry.effective_date, reason=row.reason),
            related_entry=payment.ledger_entry,
            by=by,
        )
        row.ledger_entry = entry
    elif refund.status in ("failed", "canceled") and row.ledger_entry_id and row.reversal_entry_id is None:
        row.reversal_entry = ledger_reverse_failed_refund(
            entry=row.ledger_entry,
            by=by,
            reason=memos.refund_failed_reason(refunded_on=row.ledger_entry.effective_date, status=refund.status),
        )
    row.save()
    return row


def charge_refunds_apply(charge: t.Charge, *, by: Actor) -> list[StripeRefund]:
    """A ``charge.refunded`` event. When the payload lists the refunds, each is applied; when it doesn't
    (API versions since 2022-11-15 leave them out), the refunds are fetched by a job."""
    if charge.refunds is None:
        if charge.payment_intent_id and charge.amount_refunded_cents > 0:
            from billing.jobs import enqueue

            enqueue("billing.stripe.tasks.fetch_refunds", charge.payment_intent_id)
        return []
    return [refund_apply(r, by=by) for r in charge.refunds]


def _paid_on_words(payment: StripePayment) -> str:
    entry = payment.ledger_entry if payment.ledger_entry_id else None
    return f"of {memos.day_words(entry.effective_date)}" if entry else "(not on the ledger yet)"


# --- Disputes ---------------------------------------------------------------------------------------------
@transaction.atomic(savepoint=False)
def dispute_apply(dispute: t.Dispute, *, by: Actor) -> StripeDispute:
    """A chargeback. The first time we see it a manager gets an urgent task and the audit trail a line;
    later status changes (won, lost) are audited. Nothing is posted: the manager decides."""
    payment = _payment_for(payment_intent_id=dispute.payment_intent_id, charge_id=dispute.charge_id)
    if payment is None:
        raise WaitForObject(
            dispute.payment_intent_id or dispute.charge_id,
            f"Dispute {dispute.id} is for a payment Chairside hasn't seen yet.",
        )
    row = _lock(
        StripeDispute,
        stripe_id=dispute.id,
        defaults={
            "payment": payment,
            "charge_id": dispute.charge_id,
            "status": dispute.status,
            "reason": dispute.reason[:64],
            "amount_cents": dispute.amount_cents,
            "evidence_due_by": dispute.evidence_due_by,
            "stripe_created": dispute.created,
        },
    )
    guarantor = payment.guarantor
    if row.task_id is None:
        amount = f"{format_cents(dispute.amount_cents)}"
        due = f" Evidence due {dispute.evidence_due_by:%Y-%m-%d}." if dispute.evidence_due_by else ""
        row.task, _ = task_open(
            kind="stripe.dispute",
            title=f"Card dispute: {amount} from {guarantor.full_name}",
            detail=f"The cardholder disputed the card payment {_paid_on_words(payment)} "
            f"(reason: {dispute.reason or 'none given'}; Stripe payment {payment.stripe_id})."
            f"{due} Respond in the Stripe dashboard.",
            patient=guarantor,
            role=Role.MANAGER,
            priority=TaskPriority.URGENT,
            due_at=dispute.evidence_due_by,
            context={"dispute": dispute.id, "payment": payment.stripe_id},
            dedupe_key=f"stripe.dispute:{dispute.id}",
            by=by,
        )
        row.save(update_fields=["task"])
        audit_record(
            actor=by,
            verb="stripe.dispute.opened",
            target=row,
            patient=guarantor,
            after={"stripe_id": dispute.id, "status": dispute.status, "amount_cents": dispute.amount_cents},
            reason=dispute.reason,
        )
    elif row.status != dispute.status:
        before = {"status": row.status}
        row.status = dispute.status
        row.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=by,
            verb="stripe.dispute.updated",
            target=row,
            patient=guarantor,
            before=before,
            after={"status": dispute.status},
        )
    return row
