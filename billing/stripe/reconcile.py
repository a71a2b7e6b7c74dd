"""Reconciliation: for a period, compare what Stripe says was paid and refunded with what the ledger
says, list every difference, and (with ``fix``) post only what is missing, through the same services
the webhooks use. Runs daily; its latest result is a panel on the managers' Today page, and each
difference opens one manager task."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
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
    StaffTask,
    StripeCustomer,
    StripePayment,
    StripeReconciliation,
    TaskPriority,
    TaskStatus,
)
from billing.money import format_cents
from billing.roles import is_manager
from billing.services.audit import audit_record
from billing.services.staff_tasks import task_open, task_resolve

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


FIXABLE = (MISSING_IN_LEDGER,)
NO_FIX = {
    MISSING_IN_STRIPE: "Nothing to post: check the entry against the Stripe dashboard; if Stripe never took the "
    "money, a manager reverses the entry from the patient's ledger.",
    AMOUNT_MISMATCH: "Nothing to post automatically: compare the amounts in the Stripe dashboard; a refund or a "
    "reversal on the ledger usually explains it.",
}


def _post_missing(item: Discrepancy, obj, *, by: Actor, reason: str) -> LedgerEntry:
    """Post one object Stripe has and the ledger lacks, through the services the webhooks use, and audit
    it. The one fix both ``reconcile_stripe --fix`` and the console apply. Raises UnknownCustomer or
    WaitForObject (nothing written) when it can't be posted yet."""
    with transaction.atomic():
        if isinstance(obj, t.Invoice):
            payments.invoice_apply(obj, by=by)
        elif isinstance(obj, t.PaymentIntent):
            payments.intent_apply(obj, by=by)
        else:
            payments.refund_apply(obj, by=by)
        entry = LedgerEntry.objects.filter(source=EntrySource.STRIPE, external_ref=item.stripe_id).first()
        if entry is None:  # Stripe's object changed since the run (no longer paid): nothing posted
            raise WaitForObject(item.stripe_id, f"Stripe no longer says this {item.what} was paid.")
        audit_record(
            actor=by,
            verb="stripe.reconcile.fixed",
            target=entry,
            patient=entry.patient,
            before={**asdict(item), "ledger_cents": None},
            after={**asdict(item), "fixed": True, "ledger_entry": entry.pk, "ledger_cents": abs(entry.amount_cents)},
            reason=reason,
        )
    return entry


def _fix(found: list[Discrepancy], side: StripeSide, *, by: Actor) -> None:
    """Post what Stripe has and the ledger lacks: payments first, so their refunds can link to them."""
    objects = {o.id: o for o in [*side.invoices, *side.intents, *side.refunds]}
    order = sorted((d for d in found if d.kind in FIXABLE), key=lambda d: d.what == "refund")
    for item in order:
        try:
            _post_missing(
                item, objects[item.stripe_id], by=by, reason=f"posted the missing {item.what} {item.stripe_id}"
            )
        except (UnknownCustomer, WaitForObject) as exc:
            item.detail = f"not fixed: {exc}"
        else:
            item.fixed = True


@dataclass
class FixOutcome:
    item: Discrepancy
    done_now: bool  # False: an earlier request (a double click, the command) had already fixed it
    entry: LedgerEntry | None = None


def _retrieve(stripe_id: str):
    fetch = {
        "in_": gateway.invoice_retrieve,
        "pi_": gateway.payment_intent_retrieve,
        "re_": gateway.refund_retrieve,
    }.get(stripe_id[:3])
    if fetch is None:
        raise ValidationError({"stripe_id": f"{stripe_id} isn't a Stripe payment or refund."})
    return fetch(stripe_id)


def discrepancy_fix(*, run_id: int, stripe_id: str, by: Actor, note: str = "") -> FixOutcome:
    """A manager applies the fix for one difference of a kept reconciliation: exactly what
    ``reconcile_stripe --fix`` does for it (post the payment or refund Stripe has and the ledger lacks,
    through the webhooks' services), audited with who, why, before and after, and the difference marked
    fixed on the run (its task resolved).

    Managers only (PermissionDenied). Idempotent: a second request for a fixed difference (a double
    click) changes nothing and says so. Refuses (ValidationError naming the field) a difference that isn't
    on the run or has no automatic fix, and one that can't be posted yet (an unknown customer, a refund
    whose payment isn't on the ledger). Stripe is asked for the object first, outside any lock
    (StripeError when it can't be reached)."""
    if by.user is None or not is_manager(by.user):
        raise PermissionDenied("Only a manager can fix a reconciliation difference.")
    run = StripeReconciliation.objects.filter(pk=run_id).first()
    if run is None:
        raise ValidationError({"run": "That reconciliation doesn't exist."})
    item = _item_of(run, stripe_id)
    if item.fixed:
        return FixOutcome(item=item, done_now=False)
    if item.kind not in FIXABLE:
        raise ValidationError({"stripe_id": NO_FIX.get(item.kind, "This difference has no automatic fix.")})
    obj = _retrieve(stripe_id)  # network: before the lock
    with transaction.atomic():
        run = StripeReconciliation.objects.select_for_update().get(pk=run_id)
        item = _item_of(run, stripe_id)
        if item.fixed:  # the other click won while we asked Stripe
            return FixOutcome(item=item, done_now=False)
        why = f"Reconciliation of {run.since:%Y-%m-%d} to {run.until:%Y-%m-%d}: posted the missing {item.what}"
        try:
            entry = _post_missing(item, obj, by=by, reason=f"{why}. {note.strip()}".strip()[:1000])
        except (UnknownCustomer, WaitForObject) as exc:
            raise ValidationError({"stripe_id": f"Not fixed: {exc}"}) from None
        item.fixed = True
        item.detail = f"fixed by {by.label} on {timezone.localtime():%Y-%m-%d %H:%M}"
        _mark_fixed(run, item)
        task = StaffTask.objects.filter(
            status=TaskStatus.OPEN, dedupe_key=f"stripe.reconcile:{item.kind}:{item.stripe_id}"
        ).first()
        if task is not None:
            task_resolve(task=task, by=by, note=f"Fixed from the reconciliation page: {why}.")
    return FixOutcome(item=item, done_now=True, entry=entry)


def differences_for_display(run: StripeReconciliation) -> list[dict]:
    """A kept run's differences as a manager reads them: what each is in words, and whether the page can
    fix it (no queries: the run keeps what it found)."""
    rows = []
    for raw in run.discrepancies or []:
        item = Discrepancy(**{k: v for k, v in raw.items() if k in Discrepancy.__dataclass_fields__})
        stripe, ledger = _money(item.stripe_cents), _money(item.ledger_cents)
        if item.kind == MISSING_IN_LEDGER and item.what == "refund":
            words = f"Stripe gave {stripe} back to a card; the refund isn't on the ledger."
            fix = "Fix posts the refund against the payment it gives back."
        elif item.kind == MISSING_IN_LEDGER:
            words = f"Stripe took a card payment of {stripe}; it isn't on the ledger."
            fix = "Fix posts the payment to the payer's account, as the webhook would have."
        elif item.kind == MISSING_IN_STRIPE:
            words = f"The ledger has a card {item.what} of {ledger} that Stripe doesn't show as paid."
            fix = NO_FIX[item.kind]
        else:
            words = f"Stripe says {stripe} for this {item.what}; the ledger says {ledger}."
            fix = NO_FIX.get(item.kind, "")
        rows.append(
            {
                **raw,
                "label": LABELS.get(item.kind, item.kind),
                "words": words,
                "fix_words": fix,
                "fixable": item.kind in FIXABLE and not item.fixed,
            }
        )
    return rows


def _item_of(run: StripeReconciliation, stripe_id: str) -> Discrepancy:
    for raw in run.discrepancies or []:
        if raw.get("stripe_id") == stripe_id:
            return Discrepancy(**{k: v for k, v in raw.items() if k in Discrepancy.__dataclass_fields__})
    raise ValidationError({"stripe_id": "That difference isn't on this reconciliation."})


def _mark_fixed(run: StripeReconciliation, item: Discrepancy) -> None:
    run.discrepancies = [
        {**raw, "fixed": True, "detail": item.detail} if raw.get("stripe_id") == item.stripe_id else raw
        for raw in run.discrepancies
    ]
    run.fixed_count = sum(1 for raw in run.discrepancies if raw.get("fixed"))
    run.discrepancy_count = sum(1 for raw in run.discrepancies if not raw.get("fixed"))
    if run.discrepancy_count == 0:
        run.status = ReconciliationStatus.CLEAN
    run.save(update_fields=["discrepancies", "fixed_count", "discrepancy_count", "status"])


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
    return "none" if cents is None else format_cents(cents)


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
