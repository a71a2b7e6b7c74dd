"""Posting to the append-only ledger. The only code that creates LedgerEntry rows."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from billing.actors import Actor
from billing.clock import practice_today
from billing.models import KIND_SIGN, EntryKind, EntrySource, LedgerEntry, Location, Patient
from billing.money import MAX_ENTRY_CENTS, format_cents
from billing.roles import is_manager
from billing.services.audit import audit_record, snapshot
from billing.validators import parse_cents

# The practice's life on the ledger: nothing is dated before this (the oldest history an import brings), and
# nothing more than FUTURE_LIMIT ahead even with a manager's confirmation (a typed 2615 is a typo, not a plan).
EARLIEST_EFFECTIVE_DATE = date(2000, 1, 1)
FUTURE_LIMIT = timedelta(days=365)


def _validate_amount(amount_cents) -> int:
    amount = parse_cents(amount_cents)
    if amount == 0:
        raise ValidationError({"amount_cents": "An entry can't be zero."})
    if abs(amount) > MAX_ENTRY_CENTS:
        raise ValidationError(
            {"amount_cents": f"One entry is at most {format_cents(MAX_ENTRY_CENTS)}; check the amount."}
        )
    return amount


def _validate_date_window(effective_date: date) -> None:
    """The hard window every entry keeps, whoever posts it (future dates inside it need confirming: see
    ``_check_future``)."""
    if effective_date < EARLIEST_EFFECTIVE_DATE:
        raise ValidationError(
            {"effective_date": f"Dates before {EARLIEST_EFFECTIVE_DATE:%Y-%m-%d} aren't accepted; check the year."}
        )
    latest = practice_today() + FUTURE_LIMIT
    if effective_date > latest:
        raise ValidationError(
            {"effective_date": f"That date is more than a year ahead (latest {latest:%Y-%m-%d}); check the year."}
        )


def _check_future(effective_date: date, *, by: Actor, confirmed: bool) -> None:
    """A date after today is refused unless a manager confirms it (front desk and system: always refused)."""
    today = practice_today()
    if effective_date <= today:
        return
    manager = by.user is not None and is_manager(by.user)
    if not manager:
        raise ValidationError(
            {
                "effective_date": ValidationError(
                    f"{effective_date:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d}); "
                    "only a manager can post a future-dated entry.",
                    code="future_date_refused",
                )
            }
        )
    if not confirmed:
        raise ValidationError(
            {
                "effective_date": ValidationError(
                    f"{effective_date:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d}); "
                    "confirm to post it dated then.",
                    code="future_date",
                )
            }
        )


def overpayment_credit(*, guarantor: Patient, payment_cents: int) -> tuple[int, int]:
    """(balance owed, what would be left as credit) if the household paid ``payment_cents`` (> 0) now.
    Nothing is left over while the payment is at most what is owed."""
    from billing.selectors.ledger import guarantor_balance

    owed = max(guarantor_balance(guarantor=guarantor), 0)
    return owed, max(payment_cents - owed, 0)


def check_overpayment(*, guarantor: Patient, payment_cents: int, confirmed: bool, field: str = "amount_cents") -> int:
    """Refuse a payment above what the household owes unless ``confirmed`` (ValidationError code
    "overpayment" on ``field``, saying the balance owed and the credit it would leave). Returns the credit
    the payment leaves on account (0 when it doesn't overpay)."""
    owed, credit = overpayment_credit(guarantor=guarantor, payment_cents=payment_cents)
    if credit and not confirmed:
        raise ValidationError(
            {
                field: ValidationError(
                    "%(name)s's household owes %(owed)s; a payment of %(paid)s would leave %(credit)s as credit "
                    "on account. Confirm to post it anyway.",
                    code="overpayment",
                    params={
                        "name": guarantor.full_name,
                        "owed": format_cents(owed),
                        "paid": format_cents(payment_cents),
                        "credit": format_cents(credit),
                        "owed_cents": owed,
                        "credit_cents": credit,
                    },
                )
            }
        )
    return credit


def _validate_entry(*, kind: str, amount_cents, effective_date, code: str, memo: str, related_entry) -> int:
    if kind not in EntryKind.values or kind == EntryKind.REVERSAL:
        raise ValidationError({"kind": f"Choose one of: {', '.join(k for k in EntryKind.values if k != 'reversal')}."})
    amount = _validate_amount(amount_cents)
    sign = KIND_SIGN.get(EntryKind(kind))
    if sign is not None and (amount > 0) != (sign > 0):
        word = "positive" if sign > 0 else "negative"
        raise ValidationError({"amount_cents": f"A {EntryKind(kind).label.lower()} must be {word} (in cents)."})
    if not isinstance(effective_date, date):
        raise ValidationError({"effective_date": "Enter a date (YYYY-MM-DD)."})
    _validate_date_window(effective_date)
    if len(code) > 32:
        raise ValidationError({"code": "Codes are at most 32 characters."})
    if len(memo) > 500:
        raise ValidationError({"memo": "Memos are at most 500 characters."})
    if kind == EntryKind.REFUND and (related_entry is None or related_entry.kind != EntryKind.PAYMENT):
        raise ValidationError({"related_entry": "A refund must point at the payment it gives back."})
    return amount


def _guarantor_of(patient: Patient) -> Patient:
    return patient.household.guarantor or patient


def _prepare(
    *,
    patient: Patient,
    kind: str,
    amount_cents: int,
    effective_date: date | None,
    source: str,
    by: Actor,
    code: str,
    memo: str,
    external_ref: str | None,
    location: Location | None,
    related_entry: LedgerEntry | None,
) -> LedgerEntry:
    """Check everything that can be checked without writing, and build the (unsaved) entry."""
    if source == EntrySource.MANUAL and by.user is not None and not is_manager(by.user):
        raise PermissionDenied("Only a manager can post manual ledger entries.")
    effective_date = effective_date or practice_today()
    amount = _validate_entry(
        kind=kind,
        amount_cents=amount_cents,
        effective_date=effective_date,
        code=code,
        memo=memo,
        related_entry=related_entry,
    )
    return LedgerEntry(
        patient=patient,
        guarantor=_guarantor_of(patient),
        location=location or patient.home_location,
        kind=kind,
        amount_cents=amount,
        effective_date=effective_date,
        code=code,
        source=source,
        external_ref=external_ref,
        memo=memo,
        related_entry=related_entry,
        posted_by_user=by.user,
        posted_by_system=by.system,
    )


def _write(entry: LedgerEntry, *, by: Actor) -> bool:
    """Insert the entry and its audit event in the caller's transaction. Returns False, having written
    nothing, when its outside reference is already on the ledger (a concurrent twin won the race): only
    that insert runs in a savepoint, so the loser's transaction carries on. A refund first locks the payment
    it gives back and refuses one that was reversed (the database refuses it too: billing/db/corrections.py)."""
    if entry.kind == EntryKind.REFUND:
        _lock_uncorrected_by_reversal(entry.related_entry_id)
    if entry.external_ref is None:
        entry.save()
    else:
        try:
            with transaction.atomic():
                entry.save()
        except IntegrityError:
            if LedgerEntry.objects.filter(source=entry.source, external_ref=entry.external_ref).exists():
                return False
            raise
    audit_record(
        actor=by, verb="ledger.posted", target=entry, after=snapshot(entry), patient=entry.patient, reason=entry.memo
    )
    return True


def _lock_uncorrected_by_reversal(entry_id: int) -> None:
    # Lock order for corrections is always "the corrected entry first", so a reversal and a refund of one
    # payment queue up here and the second one reads the first's row and refuses cleanly.
    LedgerEntry.objects.select_for_update().filter(pk=entry_id).values_list("pk", flat=True).first()
    reversal = LedgerEntry.objects.filter(reverses_id=entry_id).values_list("pk", flat=True).first()
    if reversal is not None:
        raise ValidationError(
            {"related_entry": f"This payment was reversed (entry #{reversal}); it can't also be refunded."}
        )


def _already_posted(source: str, external_ref: str) -> ValidationError:
    return ValidationError({"external_ref": f"{source} reference {external_ref} is already on the ledger."})


def ledger_post(
    *,
    patient: Patient,
    kind: str,
    amount_cents: int,
    effective_date: date | None = None,
    source: str = EntrySource.MANUAL,
    by: Actor,
    code: str = "",
    memo: str = "",
    external_ref: str | None = None,
    location: Location | None = None,
    related_entry: LedgerEntry | None = None,
    confirm_overpayment: bool = False,
    confirm_future_date: bool = False,
) -> LedgerEntry:
    """Post one entry to the patient's account, billed to their household's guarantor.

    Refuses (ValidationError naming the field, nothing written): a zero amount, a non-integer amount, one
    above ``MAX_ENTRY_CENTS``, the wrong sign for the kind, a date before 2000 or more than a year ahead, a
    reversal (use ledger_reverse), a refund without its payment or of a reversed payment, an outside
    reference already posted for this source. Manual entries are managers-only.

    Needs confirming (ValidationError with a code, nothing written, until the caller passes the flag):
    - ``confirm_overpayment``: a payment above what the household owes (code "overpayment" on
      ``amount_cents``, saying the balance owed and the credit it would leave). Confirmed, the payment posts
      and the rest stays on account as credit (a negative balance) that later charges use; the audit trail
      records the credit.
    - ``confirm_future_date``: an effective date after today (code "future_date" on ``effective_date``);
      honoured for managers only, anyone else is refused.
    """
    entry = _prepare(
        patient=patient,
        kind=kind,
        amount_cents=amount_cents,
        effective_date=effective_date,
        source=source,
        by=by,
        code=code,
        memo=memo,
        external_ref=external_ref,
        location=location,
        related_entry=related_entry,
    )
    # Both confirmations are asked for at once, so the form shows every warning in one round.
    errors: dict[str, list] = {}
    credit = 0
    try:
        _check_future(entry.effective_date, by=by, confirmed=confirm_future_date)
    except ValidationError as exc:
        errors.update(exc.error_dict)
    if entry.kind == EntryKind.PAYMENT:
        try:
            credit = check_overpayment(
                guarantor=entry.guarantor, payment_cents=-entry.amount_cents, confirmed=confirm_overpayment
            )
        except ValidationError as exc:
            errors.update(exc.error_dict)
    if errors:
        raise ValidationError(errors)
    if external_ref is not None and LedgerEntry.objects.filter(source=source, external_ref=external_ref).exists():
        raise _already_posted(source, external_ref)
    with transaction.atomic():
        written = _write(entry, by=by)
        if written and credit:
            audit_record(
                actor=by,
                verb="ledger.credit_on_account",
                target=entry,
                after={"payment_cents": -entry.amount_cents, "credit_cents": credit},
                patient=entry.patient,
                reason=f"Overpayment confirmed: {format_cents(credit)} left as credit on account.",
            )
    if not written:
        raise _already_posted(source, external_ref)
    return entry


def ledger_post_once(*, source: str, external_ref: str, by: Actor, **fields) -> tuple[LedgerEntry, bool]:
    """Post an outside fact at most once: (entry, True) when posted now, (the earlier entry, False) when
    this (source, external_ref) is already on the ledger, including when a concurrent caller won the race.
    The database's unique constraint is the guarantee; the first lookup only saves work. ``fields`` and
    the refusals are those of ``ledger_post``. Runs in the caller's transaction (one savepoint around the
    insert)."""
    existing = LedgerEntry.objects.filter(source=source, external_ref=external_ref).first()
    if existing is not None:
        return existing, False
    fields = {"effective_date": None, "code": "", "memo": "", "location": None, "related_entry": None, **fields}
    entry = _prepare(source=source, external_ref=external_ref, by=by, **fields)
    if source != EntrySource.STRIPE:
        # Stripe's own timestamp is a fact (dated in the practice's zone); any other outside fact dated after
        # today is a mistake in the import.
        _check_future(entry.effective_date, by=by, confirmed=False)
    if _in_transaction():
        written = _write(entry, by=by)
    else:
        with transaction.atomic():
            written = _write(entry, by=by)
    if not written:
        return LedgerEntry.objects.get(source=source, external_ref=external_ref), False
    return entry, True


def _in_transaction() -> bool:
    return transaction.get_connection().in_atomic_block


@transaction.atomic
def ledger_reverse(*, entry: LedgerEntry, by: Actor, reason: str, effective_date: date | None = None) -> LedgerEntry:
    """Post the entry's exact opposite, linked to it. An entry is reversed at most once (the database's
    one-to-one link guarantees it), a reason is required, and staff reversals are managers-only.

    Refuses (ValidationError on ``entry``): a reversal; a refund; money that moved through Stripe (it is
    corrected by a refund from Card payments, so a reversal would count the correction twice); a payment
    that has refunds. The database refuses the last two as well (billing/db/corrections.py)."""
    if by.user is not None and not is_manager(by.user):
        raise PermissionDenied("Only a manager can reverse a ledger entry.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this entry is being reversed."})
    original = (
        LedgerEntry.objects.select_for_update(of=("self",)).select_related("patient", "reversed_by").get(pk=entry.pk)
    )
    refusal = original.reverse_refusal
    if refusal:
        raise ValidationError({"entry": refusal})
    return _post_reversal(
        original,
        source=EntrySource.MANUAL if by.user is not None else EntrySource.SYSTEM,
        by=by,
        reason=reason,
        effective_date=effective_date,
    )


@transaction.atomic
def ledger_reverse_failed_refund(*, entry: LedgerEntry, by: Actor, reason: str) -> LedgerEntry:
    """Stripe reports that a refund it had accepted failed (or was canceled): the money stayed with the
    practice, so the REFUND entry is reversed, once, as a Stripe-sourced correction. The only reversal the
    database accepts of an entry that came from Stripe."""
    original = (
        LedgerEntry.objects.select_for_update(of=("self",)).select_related("patient", "reversed_by").get(pk=entry.pk)
    )
    if original.kind != EntryKind.REFUND or original.source != EntrySource.STRIPE:
        raise ValidationError({"entry": "Only a Stripe refund is reversed when Stripe reports it failed."})
    already = getattr(original, "reversed_by", None)
    if already is not None:
        return already
    return _post_reversal(original, source=EntrySource.STRIPE, by=by, reason=reason, effective_date=None)


def _post_reversal(
    original: LedgerEntry, *, source: str, by: Actor, reason: str, effective_date: date | None
) -> LedgerEntry:
    effective_date = effective_date or practice_today()
    if not isinstance(effective_date, date):
        raise ValidationError({"effective_date": "Enter a date (YYYY-MM-DD)."})
    _validate_date_window(effective_date)
    _check_future(effective_date, by=by, confirmed=False)
    reversal = LedgerEntry(
        patient=original.patient,
        guarantor=original.guarantor,
        location=original.location,
        kind=EntryKind.REVERSAL,
        amount_cents=-original.amount_cents,
        effective_date=effective_date,
        code=original.code,
        source=source,
        memo=reason[:500],
        reverses=original,
        posted_by_user=by.user,
        posted_by_system=by.system,
    )
    try:
        with transaction.atomic():
            reversal.save()
    except IntegrityError:
        raise ValidationError(
            {"entry": "This entry was already corrected (reversed or refunded); nothing was posted."}
        ) from None
    audit_record(
        actor=by,
        verb="ledger.reversed",
        target=reversal,
        before=snapshot(original),
        after=snapshot(reversal),
        patient=original.patient,
        reason=reason,
    )
    return reversal
