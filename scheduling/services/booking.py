"""Putting appointments on the calendar and moving them: the one conflict-proof write path (online
requests use it from online.py).

Every way an appointment gets or changes its time (an online request, a staff booking, a move, a
patient's reschedule, an accepted ASAP offer) does two steps inside one transaction:

1. ``_place``: re-check the time against the calendar as it is now (a fresh ``CalendarSnapshot``) and pick
   a free operatory, then
2. ``_guarded_save``: INSERT or UPDATE the row in a savepoint. On PostgreSQL the exclusion constraints
   refuse an overlap that a concurrent transaction committed after our check; we roll back to the
   savepoint, re-read, and either take another free operatory or answer "taken". On SQLite every
   transaction begins IMMEDIATE, so the check and the write run under the database's one write lock and
   no other booking can interleave.

A lost race raises ``SlotTaken`` carrying the nearest open alternatives. An idempotency key (unique in
the database) makes a double-click or a resubmitted form return the first answer instead of a second hold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from billing.actors import Actor
from billing.jobs import enqueue
from billing.models import Location, Patient
from billing.services.audit import audit_record, snapshot
from scheduling.db import is_retryable, lock_calendar, violated_constraint
from scheduling.models import (
    EXCLUSION_CONSTRAINTS,
    UPCOMING_STATUSES,
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    AppointmentType,
    Operatory,
    Provider,
)
from scheduling.selectors.availability import CalendarSnapshot, Slot, day_bounds, nearest_slots, online_window
from scheduling.selectors.calendar import patient_overlapping_appointments
from scheduling.selectors.settings import scheduling_settings

from .messages import send_confirmation

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
STAFF_MAX_DAYS_AHEAD = 730  # staff book at most two years out; later is a typo in the year
BACKFILL_MAX_DAYS = 3650  # how far back ``allow_past`` (the demo seed, imports) may write
IN_THE_PAST = "That time is in the past."
YOU_ARE_BOOKED_THEN = "You already have a visit with us at that time. Pick another time, or call us to change it."

APPOINTMENT_FIELDS = [
    "status",
    "provider",
    "operatory",
    "patient",
    "start",
    "end",
    "occupied_start",
    "occupied_end",
    "held_at",
    "confirmed_at",
    "cancelled_at",
    "cancel_kind",
    "cancel_reason",
    "checked_in_at",
    "completed_at",
    "reschedule_count",
]


class SlotTaken(Exception):
    """The time is no longer free (someone else just took it, or it was never bookable)."""

    message = "Sorry, that time was just taken. Here are the nearest open times."

    def __init__(self, alternatives: list[Slot] | None = None, message: str | None = None):
        super().__init__(message or self.message)
        self.alternatives = alternatives or []
        if message:
            self.message = message


class PatientOverlap(ValidationError):
    """Staff asked for a time at which the patient already has an active appointment (at any location).
    Nothing was written; ``clashes`` are the appointments in the way. Repeat with
    ``confirm_patient_overlap=True`` to book anyway."""

    def __init__(self, clashes: list[Appointment], *, patient: Patient):
        self.clashes = clashes
        super().__init__({"patient": f"{patient.full_name} already has {describe_clashes(clashes)}."})


def describe_clashes(clashes: list[Appointment]) -> str:
    """'an appointment then: Tue 2 Jun 2026, 09:00-10:00 at Lakeview with Dr. Lee' (each in its location's
    time zone), for staff."""
    parts = []
    for a in clashes:
        zone = a.location.zone
        s, e = a.start.astimezone(zone), a.end.astimezone(zone)
        parts.append(f"{s:%a} {s.day} {s:%b %Y, %H:%M}-{e:%H:%M} at {a.location.name} with {a.provider.name}")
    return ("an appointment then: " if len(parts) == 1 else "appointments then: ") + "; ".join(parts)


def validate_start(
    start,
    *,
    location: Location,
    appointment_type: AppointmentType,
    online: bool,
    allow_past: bool = False,
    now: datetime | None = None,
) -> None:
    """Refuse, before anything is read or written, a start no booking may take (ValidationError on
    ``start``): not an aware datetime; online, a time already past or beyond the type's how-far-ahead limit;
    staff, a day before today (unless ``allow_past``, for the demo seed and imports, within
    BACKFILL_MAX_DAYS) or more than STAFF_MAX_DAYS_AHEAD ahead. The minimum notice, working hours and other
    appointments are the availability re-check's answer ("taken", with alternatives)."""
    if not isinstance(start, datetime) or start.tzinfo is None or start.utcoffset() is None:
        raise ValidationError({"start": "Give the time with its time zone."})
    now = now or timezone.now()
    # Compare in absolute time first: a datetime near year 1 or 9999 can't be moved into a zone.
    if online:
        if start <= now:
            raise ValidationError({"start": IN_THE_PAST})
        ahead = appointment_type.max_days_ahead
        window = online_window(location=location, appointment_type=appointment_type, now=now)
        if start > now + timedelta(days=ahead + 2) or start.astimezone(location.zone).date() > window.last_day:
            raise ValidationError({"start": f"We book at most {ahead} days ahead online; please call us for later."})
        return
    if start > now + timedelta(days=STAFF_MAX_DAYS_AHEAD):
        raise ValidationError({"start": f"We book at most {STAFF_MAX_DAYS_AHEAD} days ahead."})
    earliest = (
        now - timedelta(days=BACKFILL_MAX_DAYS)
        if allow_past
        else day_bounds(now.astimezone(location.zone).date(), location.zone)[0]
    )
    if start < earliest:
        raise ValidationError({"start": IN_THE_PAST})


def check_patient_overlap(
    *, patient: Patient | None, placement: Placement, exclude: Appointment | None, confirmed: bool, online: bool
) -> None:
    """Inside the booking transaction: a patient is in one chair at a time, whatever the location. Online,
    refuse without saying where or with whom; staff get PatientOverlap unless they confirmed."""
    if patient is None or (confirmed and not online):
        return
    clashes = patient_overlapping_appointments(
        patient=patient, start=placement.start, end=placement.end, exclude=exclude
    )
    if not clashes:
        return
    if online:
        raise ValidationError({"start": YOU_ARE_BOOKED_THEN})
    raise PatientOverlap(clashes, patient=patient)


class _Conflict(Exception):
    """Internal: the database refused an overlap (PostgreSQL exclusion constraint)."""


class _NotFree(Exception):
    """Internal: the re-check inside the transaction found the time taken or not bookable. Carries the
    calendar it read (fresh: after any competitor committed), so the answer can offer alternatives from it."""

    def __init__(self, snapshot: CalendarSnapshot | None = None):
        super().__init__()
        self.snapshot = snapshot


def _is_exclusion_violation(exc: IntegrityError) -> bool:
    name = violated_constraint(exc)
    return any(c in name for c in EXCLUSION_CONSTRAINTS)


def _guarded_save(appointment: Appointment, **kwargs) -> None:
    """Write the row in a savepoint. An exclusion violation, or the deadlock two simultaneous overlapping
    inserts can end in (PostgreSQL aborts one of them), rolls back to the savepoint and means: re-read."""
    try:
        with transaction.atomic():
            appointment.save(**kwargs)
    except IntegrityError as exc:
        if _is_exclusion_violation(exc):
            raise _Conflict() from exc
        raise
    except OperationalError as exc:
        if is_retryable(exc):
            raise _Conflict() from exc
        raise


def _audit(appointment: Appointment, *, by: Actor, verb: str, before: dict | None, reason: str = "") -> None:
    audit_record(
        actor=by,
        verb=verb,
        target=appointment,
        before=before,
        after=snapshot(appointment, APPOINTMENT_FIELDS),
        reason=reason,
        patient=appointment.patient,
        location=appointment.location,
    )


@dataclass(frozen=True)
class Placement:
    """Where and when a visit goes: its times (visit and occupied, with buffers) and the chosen operatory."""

    start: datetime
    end: datetime
    occupied_start: datetime
    occupied_end: datetime
    operatory_id: int

    def apply(self, appointment: Appointment) -> Appointment:
        appointment.start, appointment.end = self.start, self.end
        appointment.occupied_start, appointment.occupied_end = self.occupied_start, self.occupied_end
        appointment.operatory_id = self.operatory_id
        return appointment


def _place(
    snap: CalendarSnapshot,
    *,
    provider_id: int,
    start: datetime,
    operatory_id: int | None = None,
    respect_hours: bool = True,
    respect_blocks: bool = True,
) -> Placement:
    """The re-check: where this start fits (the given operatory, or the first free one), or _NotFree."""
    occ_start, end, occ_end = snap.occupied(start)
    if respect_hours and not snap.within_hours(provider_id, start, end):
        raise _NotFree()
    if not snap.provider_free(provider_id, occ_start, occ_end, blocks=respect_blocks):
        raise _NotFree()
    free = snap.free_operatories(occ_start, occ_end, blocks=respect_blocks)
    if operatory_id is not None and operatory_id not in free:
        raise _NotFree()
    if not free:
        raise _NotFree()
    return Placement(start, end, occ_start, occ_end, operatory_id if operatory_id is not None else free[0])


def _insert(placement: Placement, **fields) -> Appointment:
    """Write a new appointment at a placement, through the guarded save."""
    appointment = placement.apply(Appointment(**fields))
    _guarded_save(appointment, force_insert=True)
    return appointment


def _snapshot_for(
    *, location: Location, appointment_type: AppointmentType, provider_id: int, start: datetime, ignore: int | None
) -> CalendarSnapshot:
    day = start.astimezone(location.zone).date()
    return CalendarSnapshot.load(
        location=location,
        appointment_type=appointment_type,
        first_day=day,
        last_day=day,
        provider_ids=[provider_id],
        ignore_appointment_id=ignore,
    )


def _online_slot_open(
    snap: CalendarSnapshot, *, location: Location, appointment_type: AppointmentType, provider_id: int, start: datetime
) -> bool:
    window = online_window(location=location, appointment_type=appointment_type)
    day = start.astimezone(location.zone).date()
    if not (window.first_day <= day <= window.last_day):
        return False
    return any(s.start == start for s in snap.slots(earliest=window.earliest, provider_id=provider_id).get(day, []))


def _alternatives(
    *, location: Location, appointment_type: AppointmentType, around: datetime, ignore=None
) -> list[Slot]:
    return nearest_slots(
        location=location, appointment_type=appointment_type, around=around, ignore_appointment_id=ignore
    )


def _opening_freed(appointment: Appointment, old_start: datetime, old_provider_id: int) -> None:
    """A future visit gave up its time: let the ASAP list hear about it (after commit, in the worker)."""
    if old_start > timezone.now():
        enqueue(
            "scheduling.tasks.asap_opening",
            appointment.location_id,
            old_provider_id,
            old_start.isoformat(),
            appointment.appointment_type_id,
        )


# --- staff bookings and moves --------------------------------------------------------------------------------
def appointment_book(
    *,
    location: Location,
    appointment_type: AppointmentType,
    provider: Provider,
    start: datetime,
    patient: Patient,
    by: Actor,
    operatory: Operatory | None = None,
    note: str = "",
    override_hours: bool = False,
    source: str = AppointmentSource.STAFF,
    idempotency_key: str | None = None,
    notify_patient: bool = True,
    confirm_patient_overlap: bool = False,
    allow_past: bool = False,
) -> Appointment:
    """Staff put a confirmed appointment on the calendar, through the same conflict-proof path as online
    holds. Working hours, blocks and time off are respected unless ``override_hours`` (a squeeze-in);
    another appointment for the provider or the operatory is never overlapped. The patient gets a
    confirmation unless ``notify_patient`` is off (booked in person, imports). Raises SlotTaken; a
    ValidationError for a start in the past (unless ``allow_past``) or too far ahead; PatientOverlap when
    the patient already has an active appointment then (any location) unless ``confirm_patient_overlap``."""
    validate_start(start, location=location, appointment_type=appointment_type, online=False, allow_past=allow_past)
    if operatory is not None and operatory.location_id != location.pk:
        raise ValidationError({"operatory": "That operatory is at another location."})
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                if idempotency_key:
                    done = Appointment.objects.filter(idempotency_key=idempotency_key).first()
                    if done is not None:
                        return done
                lock_calendar(location_id=location.pk, provider_ids=[provider.pk])
                snap = _snapshot_for(
                    location=location,
                    appointment_type=appointment_type,
                    provider_id=provider.pk,
                    start=start,
                    ignore=None,
                )
                placement = _place(
                    snap,
                    provider_id=provider.pk,
                    start=start,
                    operatory_id=operatory.pk if operatory else None,
                    respect_hours=not override_hours,
                    respect_blocks=not override_hours,
                )
                check_patient_overlap(
                    patient=patient, placement=placement, exclude=None, confirmed=confirm_patient_overlap, online=False
                )
                now = timezone.now()
                appointment = _insert(
                    placement,
                    location=location,
                    provider=provider,
                    appointment_type=appointment_type,
                    patient=patient,
                    status=AppointmentStatus.CONFIRMED,
                    source=source,
                    staff_note=note,
                    booked_by=by.user,
                    confirmed_at=now,
                    confirmed_by=by.user,
                    idempotency_key=idempotency_key,
                )
                _audit(appointment, by=by, verb="appointment.booked", before=None, reason=note)
                if notify_patient:
                    send_confirmation(
                        appointment, template="scheduling/confirmed", dedupe_key=f"sched:appt:{appointment.pk}:booked"
                    )
                return appointment
        except _Conflict:
            continue
        except _NotFree:
            break
    raise SlotTaken(_alternatives(location=location, appointment_type=appointment_type, around=start))


def appointment_move(
    *,
    appointment: Appointment,
    start: datetime,
    by: Actor,
    provider: Provider | None = None,
    operatory: Operatory | None = None,
    reason: str = "",
    override_hours: bool = False,
    confirm_patient_overlap: bool = False,
) -> Appointment:
    """Staff move an upcoming appointment (new time, provider or operatory). Atomic: one UPDATE of the row,
    so the old time is given up only in the same commit that takes the new one; if the new time is taken
    nothing changes and SlotTaken carries alternatives. Status is kept. A start before today or too far
    ahead is a ValidationError; a time the patient is booked elsewhere raises PatientOverlap unless
    ``confirm_patient_overlap``."""
    return _move(
        appointment=appointment,
        start=start,
        by=by,
        provider=provider,
        operatory=operatory,
        reason=reason,
        online=False,
        override_hours=override_hours,
        verb="appointment.moved",
        confirm_patient_overlap=confirm_patient_overlap,
    )


def appointment_reschedule(*, appointment: Appointment, start: datetime, provider: Provider, by: Actor) -> Appointment:
    """The patient, from their manage link, moves their visit to another online slot. The same atomic move
    as staff use, under the online rules (minimum notice, how far ahead, working hours); afterwards it is a
    tentative hold again for staff to confirm. A time in the past or too far ahead, or one at which the
    patient has another visit, is a ValidationError on ``start``."""
    return _move(
        appointment=appointment,
        start=start,
        by=by,
        provider=provider,
        operatory=None,
        reason="rescheduled by the patient",
        online=True,
        override_hours=False,
        verb="appointment.rescheduled",
    )


def _move(
    *,
    appointment: Appointment,
    start: datetime,
    by: Actor,
    provider: Provider | None,
    operatory: Operatory | None,
    reason: str,
    online: bool,
    override_hours: bool,
    verb: str,
    confirm_patient_overlap: bool = False,
) -> Appointment:
    validate_start(start, location=appointment.location, appointment_type=appointment.appointment_type, online=online)
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                # Queue behind any booking that could clash with the new time, then lock the row.
                lock_calendar(
                    location_id=appointment.location_id,
                    provider_ids=[provider.pk if provider else appointment.provider_id],
                )
                locked = (
                    Appointment.objects.select_for_update(of=("self",))
                    .select_related("location", "appointment_type", "provider", "patient")
                    .get(pk=appointment.pk)
                )
                if locked.status not in UPCOMING_STATUSES:
                    raise ValidationError(
                        {"status": f"This appointment is {locked.get_status_display().lower()}; it can't be moved."}
                    )
                new_provider = provider or locked.provider
                if operatory is not None and operatory.location_id != locked.location_id:
                    raise ValidationError({"operatory": "That operatory is at another location."})
                snap = _snapshot_for(
                    location=locked.location,
                    appointment_type=locked.appointment_type,
                    provider_id=new_provider.pk,
                    start=start,
                    ignore=locked.pk,
                )
                if online and not _online_slot_open(
                    snap,
                    location=locked.location,
                    appointment_type=locked.appointment_type,
                    provider_id=new_provider.pk,
                    start=start,
                ):
                    raise _NotFree()
                placement = _place(
                    snap,
                    provider_id=new_provider.pk,
                    start=start,
                    operatory_id=operatory.pk if operatory else None,
                    respect_hours=not override_hours,
                    respect_blocks=not override_hours,
                )
                check_patient_overlap(
                    patient=locked.patient,
                    placement=placement,
                    exclude=locked,
                    confirmed=confirm_patient_overlap,
                    online=online,
                )
                before = snapshot(locked, APPOINTMENT_FIELDS)
                old_start, old_provider_id = locked.start, locked.provider_id
                locked.provider = new_provider
                placement.apply(locked)
                locked.reschedule_count += 1
                if online and locked.status != AppointmentStatus.HOLD:
                    locked.status = AppointmentStatus.HOLD
                    locked.confirmed_at = None
                    locked.confirmed_by = None
                if online:
                    locked.held_at = timezone.now()
                    locked.hold_flagged_at = None
                _guarded_save(locked)
                _audit(locked, by=by, verb=verb, before=before, reason=reason)
                send_confirmation(
                    locked,
                    template="scheduling/rescheduled",
                    dedupe_key=f"sched:appt:{locked.pk}:moved:{int(start.timestamp())}:{locked.reschedule_count}",
                    extra={"needs_confirmation": locked.status == AppointmentStatus.HOLD},
                )
                if old_start != start or old_provider_id != new_provider.pk:
                    _opening_freed(locked, old_start, old_provider_id)
                return locked
        except _Conflict:
            continue
        except _NotFree:
            break
    raise SlotTaken(
        _alternatives(
            location=appointment.location,
            appointment_type=appointment.appointment_type,
            around=start,
            ignore=appointment.pk,
        )
    )


def hold_window_ends(appointment: Appointment) -> datetime | None:
    if appointment.held_at is None:
        return None
    return appointment.held_at + timedelta(minutes=scheduling_settings().hold_confirm_minutes)
