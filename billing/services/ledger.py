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


@transaction.atomic
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
    if external_ref is not None and LedgerEntry.objects.filter(source=source, external_ref=external_ref).exists():
        raise ValidationError({"external_ref": f"{source} reference {external_ref} is already on the ledger."})
    entry = LedgerEntry(
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
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        if external_ref is not None and LedgerEntry.objects.filter(source=source, external_ref=external_ref).exists():
            raise ValidationError(
                {"external_ref": f"{source} reference {external_ref} is already on the ledger."}
            ) from None
        raise
    audit_record(actor=by, verb="ledger.posted", target=entry, after=snapshot(entry), patient=patient, reason=memo)
    return entry


def ledger_post_once(*, source: str, external_ref: str, **kwargs) -> tuple[LedgerEntry, bool]:
    """Post an outside fact at most once: (entry, True) when posted now, (the earlier entry, False) when
    this (source, external_ref) is already on the ledger, including when a concurrent caller won the race.
    The database's unique constraint is the guarantee; the first lookup only saves work."""
    existing = LedgerEntry.objects.filter(source=source, external_ref=external_ref).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return ledger_post(source=source, external_ref=external_ref, **kwargs), True
    except ValidationError as exc:
        if "external_ref" not in getattr(exc, "error_dict", {}):
            raise
        return LedgerEntry.objects.get(source=source, external_ref=external_ref), False


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
