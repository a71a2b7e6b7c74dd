"""Posting to the append-only ledger. The only code that creates LedgerEntry rows."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from billing.actors import Actor
from billing.clock import practice_today
from billing.models import KIND_SIGN, EntryKind, EntrySource, LedgerEntry, Location, Patient
from billing.roles import is_manager
from billing.services.audit import audit_record, snapshot
from billing.validators import parse_cents


def _validate_entry(*, kind: str, amount_cents, effective_date, code: str, memo: str, related_entry) -> int:
    if kind not in EntryKind.values or kind == EntryKind.REVERSAL:
        raise ValidationError({"kind": f"Choose one of: {', '.join(k for k in EntryKind.values if k != 'reversal')}."})
    amount = parse_cents(amount_cents)
    if amount == 0:
        raise ValidationError({"amount_cents": "An entry can't be zero."})
    sign = KIND_SIGN.get(EntryKind(kind))
    if sign is not None and (amount > 0) != (sign > 0):
        word = "positive" if sign > 0 else "negative"
        raise ValidationError({"amount_cents": f"A {EntryKind(kind).label.lower()} must be {word} (in cents)."})
    if not isinstance(effective_date, date):
        raise ValidationError({"effective_date": "Enter a date (YYYY-MM-DD)."})
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
    that insert runs in a savepoint, so the loser's transaction carries on."""
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
) -> LedgerEntry:
    """Post one entry to the patient's account, billed to their household's guarantor.

    Refuses (ValidationError naming the field, nothing written): a zero amount, a non-integer amount,
    the wrong sign for the kind, a reversal (use ledger_reverse), a refund without its payment, an
    outside reference already posted for this source. Manual entries are managers-only.
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
    if external_ref is not None and LedgerEntry.objects.filter(source=source, external_ref=external_ref).exists():
        raise _already_posted(source, external_ref)
    with transaction.atomic():
        written = _write(entry, by=by)
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
    one-to-one link guarantees it), a reversal is never reversed, a reason is required, and staff
    reversals are managers-only."""
    if by.user is not None and not is_manager(by.user):
        raise PermissionDenied("Only a manager can reverse a ledger entry.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this entry is being reversed."})
    original = LedgerEntry.objects.select_for_update().select_related("patient").get(pk=entry.pk)
    if original.kind == EntryKind.REVERSAL:
        raise ValidationError({"entry": "A reversal can't be reversed; post a new entry instead."})
    already = LedgerEntry.objects.filter(reverses=original).first()
    if already is not None:
        raise ValidationError({"entry": f"This entry was already reversed by entry #{already.pk}."})
    reversal = LedgerEntry(
        patient=original.patient,
        guarantor=original.guarantor,
        location=original.location,
        kind=EntryKind.REVERSAL,
        amount_cents=-original.amount_cents,
        effective_date=effective_date or practice_today(),
        code=original.code,
        source=EntrySource.MANUAL if by.user is not None else EntrySource.SYSTEM,
        memo=reason[:500],
        reverses=original,
        posted_by_user=by.user,
        posted_by_system=by.system,
    )
    try:
        with transaction.atomic():
            reversal.save()
    except IntegrityError:
        raise ValidationError({"entry": "This entry was already reversed."}) from None
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
