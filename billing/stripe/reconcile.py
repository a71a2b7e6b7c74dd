"""Reconciliation: for a period, compare what Stripe says was paid and refunded with what the ledger
says, list every difference, and (with ``fix``) post only what is missing, through the same services
the webhooks use. Runs daily; its latest result is a panel on the managers' Today page, and each
difference opens one manager task."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from billing.actors import Actor
from billing.clock import practice_today, practice_zone
from billing.models import (
    EntryKind,
    EntrySource,
    LedgerEntry,
    ReconciliationStatus,
    Role,
    StripeCustomer,
    StripePayment,
    StripeReconciliation,
    TaskPriority,
)
from billing.services.audit import audit_record
from billing.services.staff_tasks import task_open

from . import gateway, payments
from . import types as t
from .errors import StripeError, StripeObjectMissing, UnknownCustomer, WaitForObject

MISSING_IN_LEDGER = "missing_in_ledger"
MISSING_IN_STRIPE = "missing_in_stripe"
AMOUNT_MISMATCH = "amount_mismatch"
LABELS = {
    MISSING_IN_LEDGER: "Paid at Stripe, missing from the ledger",
    MISSING_IN_STRIPE: "On the ledger, not paid at Stripe",
    AMOUNT_MISMATCH: "Amounts differ",
}
TASK_LIMIT = 50


@dataclass
class Discrepancy:
    kind: str
    what: str  # payment or refund
    stripe_id: str
    stripe_cents: int | None
    ledger_cents: int | None
    detail: str = ""
    fixed: bool = False

    @property
    def label(self) -> str:
        return LABELS[self.kind]


@dataclass
class StripeSide:
    """What Stripe says about the period: paid invoices, succeeded stand-alone payments, refunds, and
    the objects behind ledger entries that the period's listing didn't include (None: Stripe has none)."""

    invoices: list[t.Invoice]
    intents: list[t.PaymentIntent]
    refunds: list[t.Refund]
    looked_up: dict[str, t.Invoice | t.PaymentIntent | t.Refund | None]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=practice_zone())


def _ledger_in(since: date, until: date):
    return LedgerEntry.objects.filter(
        source=EntrySource.STRIPE,
        kind__in=[EntryKind.PAYMENT, EntryKind.REFUND],
        effective_date__gte=since,
        effective_date__lte=until,
        external_ref__isnull=False,
    )


def stripe_side(*, since: date, until: date) -> StripeSide:
    """Ask Stripe about the period (network; raises StripeUnavailable)."""
    start = _start_of(since)
    end = _start_of(until + timedelta(days=1))
    invoices = [i for i in gateway.list_invoices(start) if i.created < end]
    intents = [p for p in gateway.list_payment_intents(start) if p.created < end and not p.invoice_id]
    refunds = [r for r in gateway.list_refunds(start) if r.created < end]
    listed = {o.id for o in [*invoices, *intents, *refunds]}
    looked_up: dict = {}
    for ref in _ledger_in(since, until).exclude(external_ref__in=listed).values_list("external_ref", flat=True):
        fetch = {
            "in_": gateway.invoice_retrieve,
            "pi_": gateway.payment_intent_retrieve,
            "re_": gateway.refund_retrieve,
        }.get(ref[:3])
        try:
            looked_up[ref] = fetch(ref) if fetch else None
        except StripeObjectMissing:
            looked_up[ref] = None
    return StripeSide(invoices=invoices, intents=intents, refunds=refunds, looked_up=looked_up)


def reconcile_compare(*, since: date, until: date, side: StripeSide) -> tuple[list[Discrepancy], dict]:
    """Compare without touching Stripe: a fixed number of queries whatever the number of objects."""
    ours = set(
        StripeCustomer.objects.filter(
            stripe_id__in={o.customer_id for o in [*side.invoices, *side.intents]}
        ).values_list("stripe_id", flat=True)
    )
    paid = {i.id: i.amount_paid_cents for i in side.invoices if i.customer_id in ours and i.status == "paid"}
    paid = {k: v for k, v in paid.items() if v > 0}
    paid.update(
        {p.id: p.amount_received_cents for p in side.intents if p.customer_id in ours and p.status == "succeeded"}
    )
    # Refunds have no customer: they are ours when they give back one of our payments.
    refund_refs = {r.payment_intent_id for r in side.refunds} | {r.charge_id for r in side.refunds}
    our_payments = StripePayment.objects.filter(payment_intent_id__in=refund_refs) | StripePayment.objects.filter(
        charge_id__in=refund_refs
    )
    our_refs = {ref for pair in our_payments.values_list("payment_intent_id", "charge_id") for ref in pair if ref}
    refunded = {
        r.id: r.amount_cents
        for r in side.refunds
        if r.status == "succeeded" and (r.payment_intent_id in our_refs or r.charge_id in our_refs)
    }
    stripe_amounts = {**paid, **refunded}
    entries = {
        e.external_ref: e
        for e in LedgerEntry.objects.filter(
            source=EntrySource.STRIPE, external_ref__in=list(stripe_amounts)
        ).select_related("reversed_by")
    }
    in_period = list(
        _ledger_in(since, until).exclude(external_ref__in=list(stripe_amounts)).select_related("reversed_by")
    )
    found: list[Discrepancy] = []
    for ref, amount in sorted(stripe_amounts.items()):
        what = "refund" if ref in refunded else "payment"
        entry = entries.get(ref)
        if entry is None:
            found.append(Discrepancy(MISSING_IN_LEDGER, what, ref, amount, None))
            continue
        net = abs(entry.amount_cents + (entry.reversed_by.amount_cents if _reversed(entry) else 0))
        if net != amount:
            detail = "the ledger entry was reversed" if _reversed(entry) else ""
            found.append(Discrepancy(AMOUNT_MISMATCH, what, ref, amount, net, detail))
    for entry in in_period:
        what = "refund" if entry.kind == EntryKind.REFUND else "payment"
        remote = side.looked_up.get(entry.external_ref)
        amount = _settled_amount(remote)
        if amount is None:
            state = "Stripe has no such object" if remote is None else f"Stripe says {remote.status}"
            found.append(Discrepancy(MISSING_IN_STRIPE, what, entry.external_ref, None, abs(entry.amount_cents), state))
        elif amount != abs(entry.amount_cents):
            found.append(Discrepancy(AMOUNT_MISMATCH, what, entry.external_ref, amount, abs(entry.amount_cents)))
    counts = {
        "stripe_payments": len(paid),
        "stripe_refunds": len(refunded),
        "ledger_entries": len(entries) + len(in_period),
    }
    return found, counts


def _reversed(entry: LedgerEntry) -> bool:
    try:
        return entry.reversed_by is not None
    except LedgerEntry.reversed_by.RelatedObjectDoesNotExist:
        return False


def _settled_amount(remote) -> int | None:
    if isinstance(remote, t.Invoice) and remote.status == "paid":
        return remote.amount_paid_cents
    if isinstance(remote, t.PaymentIntent) and remote.status == "succeeded":
        return remote.amount_received_cents
    if isinstance(remote, t.Refund) and remote.status == "succeeded":
        return remote.amount_cents
    return None


def _fix(found: list[Discrepancy], side: StripeSide, *, by: Actor) -> None:
    """Post what Stripe has and the ledger lacks: payments first, so their refunds can link to them."""
    objects = {o.id: o for o in [*side.invoices, *side.intents, *side.refunds]}
    order = sorted((d for d in found if d.kind == MISSING_IN_LEDGER), key=lambda d: d.what == "refund")
    for item in order:
        obj = objects[item.stripe_id]
        try:
            with transaction.atomic():
                if isinstance(obj, t.Invoice):
                    payments.invoice_apply(obj, by=by)
                elif isinstance(obj, t.PaymentIntent):
                    payments.intent_apply(obj, by=by)
                else:
                    payments.refund_apply(obj, by=by)
                audit_record(
                    actor=by,
                    verb="stripe.reconcile.fixed",
                    after=asdict(item),
                    reason=f"posted the missing {item.what} {item.stripe_id}",
                )
        except (UnknownCustomer, WaitForObject) as exc:
            item.detail = f"not fixed: {exc}"
        else:
            item.fixed = True


def reconcile(
    *, since: date, until: date | None = None, fix: bool = False, by: Actor, side: StripeSide | None = None
) -> StripeReconciliation:
    """Run one reconciliation and keep its result. Stripe unreachable: the run is kept as an error (and
    a manager task says so), nothing else is written."""
    until = until or practice_today()
    run = StripeReconciliation(since=since, until=until, fix=fix, run_by=by.label)
    try:
        side = side or stripe_side(since=since, until=until)
    except StripeError as exc:
        run.status, run.error, run.finished_at = ReconciliationStatus.ERROR, exc.user_message, timezone.now()
        with transaction.atomic():
            run.save()
            _task(
                f"stripe.reconcile:error:{practice_today()}",
                "Stripe reconciliation could not run",
                exc.user_message,
                by,
            )
        return run
    found, counts = reconcile_compare(since=since, until=until, side=side)
    if fix:
        _fix(found, side, by=by)
    with transaction.atomic():
        open_items = [d for d in found if not d.fixed]
        run.status = ReconciliationStatus.DISCREPANCIES if open_items else ReconciliationStatus.CLEAN
        run.discrepancies = [{**asdict(d), "label": d.label} for d in found]
        run.discrepancy_count = len(open_items)
        run.fixed_count = sum(1 for d in found if d.fixed)
        run.finished_at = timezone.now()
        for name, value in counts.items():
            setattr(run, name, value)
        run.save()
        audit_record(
            actor=by,
            verb="stripe.reconcile.ran",
            target=run,
            after={"since": since, "until": until, "discrepancies": run.discrepancy_count, "fixed": run.fixed_count},
        )
        for item in open_items[:TASK_LIMIT]:
            _task(
                f"stripe.reconcile:{item.kind}:{item.stripe_id}",
                f"Stripe reconciliation: {item.label.lower()} ({item.stripe_id})",
                f"{item.what.title()} {item.stripe_id}: Stripe {_money(item.stripe_cents)}, ledger "
                f"{_money(item.ledger_cents)}. {item.detail}".strip(),
                by,
            )
    return run


def _money(cents: int | None) -> str:
    return "none" if cents is None else f"${cents // 100:,}.{cents % 100:02d}"


def _task(dedupe_key: str, title: str, detail: str, by: Actor) -> None:
    task_open(
        kind="stripe.reconcile",
        title=title,
        detail=detail,
        role=Role.MANAGER,
        priority=TaskPriority.HIGH,
        dedupe_key=dedupe_key,
        by=by,
    )
