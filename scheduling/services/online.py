"""Online booking requests: validate what a patient typed, then in one transaction re-check the slot,
match or create the patient and write a tentative hold (through the conflict-proof path in booking.py);
tell the patient it's received. A lost race is recorded and answered with the nearest alternatives; an
idempotency key (unique in the database) makes a resubmitted form return the first outcome."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.actors import Actor
from billing.models import ContactChannel, Location, Patient, TaskPriority
from billing.services.patients import patient_create
from billing.services.staff_tasks import task_open
from billing.validators import normalize_email, normalize_phone, validate_birth_date, validate_plain_text
from scheduling.db import lock_calendar
from scheduling.models import (
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    AppointmentType,
    BookingOutcome,
    BookingRequest,
    IdentityOutcome,
    Provider,
    SchedulingSettings,
)
from scheduling.selectors.availability import CalendarSnapshot, Slot, nearest_in, online_window
from scheduling.selectors.settings import scheduling_settings

from .booking import (
    MAX_ATTEMPTS,
    _alternatives,
    _audit,
    _Conflict,
    _insert,
    _NotFree,
    _place,
    check_patient_overlap,
    validate_start,
)
from .identity import contact_offer_open, patient_match
from .messages import send_confirmation

log = logging.getLogger(__name__)

ONLINE = Actor.system_component("scheduling.online")
NOTE_MAX = 500
EXISTING_PATIENTS_ONLY = "This service is for existing patients. New patients: please choose a new-patient visit."
_NAME_OK = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '’.\-])*$")
_KEY_OK = re.compile(r"^[A-Za-z0-9_\-:.]{8,100}$")


@dataclass(frozen=True)
class Requester:
    """What the person typed on the booking form (or sent to the API)."""

    first_name: str
    last_name: str
    date_of_birth: date
    email: str
    phone: str
    preferred_channel: str = ContactChannel.EMAIL
    note: str = ""

    @classmethod
    def from_data(cls, data: dict) -> Requester:
        """From a form's or a serializer's cleaned data."""
        return cls(**{f: data[f] for f in REQUESTER_FIELDS if f in data})


REQUESTER_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "phone", "preferred_channel", "note")


@dataclass
class BookingResult:
    outcome: str  # BookingOutcome.HELD or TAKEN
    request: BookingRequest
    appointment: Appointment | None = None
    alternatives: list[Slot] = field(default_factory=list)
    replayed: bool = False

    @property
    def held(self) -> bool:
        return self.outcome == BookingOutcome.HELD


def clean_requester(data: Requester) -> Requester:
    """Strict validation of a public request; one ValidationError naming every bad field."""
    errors: dict[str, str] = {}
    names = {}
    for name in ("first_name", "last_name"):
        value = " ".join((getattr(data, name) or "").split())
        if not value:
            errors[name] = "This field is required."
        elif len(value) > 100 or not _NAME_OK.match(value):
            errors[name] = "Use letters, spaces, hyphens and apostrophes only (at most 100)."
        names[name] = value
    email = phone = ""
    try:
        email = normalize_email(data.email)
        if not email:
            errors["email"] = "We need an email address to send your confirmation."
    except ValidationError as exc:
        errors["email"] = exc.message_dict["email"][0]
    try:
        phone = normalize_phone(data.phone)
        if not phone:
            errors["phone"] = "We need a phone number in case we must reach you about this visit."
    except ValidationError as exc:
        errors["phone"] = exc.message_dict["phone"][0]
    try:
        validate_birth_date(data.date_of_birth)
    except ValidationError as exc:
        errors["date_of_birth"] = exc.message_dict["date_of_birth"][0]
    if data.preferred_channel not in (ContactChannel.EMAIL, ContactChannel.SMS):
        errors["preferred_channel"] = "Choose email or text message."
    note = (data.note or "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = f"Keep the note under {NOTE_MAX} characters; we'll call you if we need more."
    else:
        try:
            validate_plain_text(note, field="note", multiline=True)
        except ValidationError as exc:
            errors["note"] = exc.message_dict["note"][0]
    if errors:
        raise ValidationError(errors)
    return Requester(
        first_name=names["first_name"],
        last_name=names["last_name"],
        date_of_birth=data.date_of_birth,
        email=email,
        phone=phone,
        preferred_channel=data.preferred_channel,
        note=note,
    )


def _request_fields(location, appointment_type, provider, start, requester: Requester, key: str, channel: str) -> dict:
    return {
        "location": location,
        "appointment_type": appointment_type,
        "provider": provider,
        "requested_start": start,
        "idempotency_key": key,
        "channel": channel,
        "first_name": requester.first_name,
        "last_name": requester.last_name,
        "date_of_birth": requester.date_of_birth,
        "email": requester.email,
        "phone": requester.phone,
        "preferred_channel": requester.preferred_channel,
        "note": requester.note,
    }


def patient_from_request(requester: Requester | BookingRequest, *, location: Location, by: Actor) -> Patient:
    """A new chart from what an online requester typed (after matching found none, or staff decided)."""
    return patient_create(
        first_name=requester.first_name,
        last_name=requester.last_name,
        date_of_birth=requester.date_of_birth,
        email=requester.email,
        phone=requester.phone,
        preferred_channel=requester.preferred_channel,
        home_location=location,
        by=by,
    )


def _replay(request: BookingRequest) -> BookingResult:
    alternatives = []
    if request.outcome == BookingOutcome.TAKEN:
        alternatives = _alternatives(
            location=request.location, appointment_type=request.appointment_type, around=request.requested_start
        )
    return BookingResult(
        outcome=request.outcome,
        request=request,
        appointment=request.appointment,
        alternatives=alternatives,
        replayed=True,
    )


def _find_request(key: str) -> BookingRequest | None:
    return (
        BookingRequest.objects.select_related("location", "appointment_type", "appointment__provider")
        .filter(idempotency_key=key)
        .first()
    )


def hold_place(
    *,
    location: Location,
    appointment_type: AppointmentType,
    provider: Provider,
    start: datetime,
    requester: Requester,
    idempotency_key: str,
    channel: str = "web",
) -> BookingResult:
    """An online request: validate, then in one transaction re-check the slot, match or create the patient
    and write a tentative hold; tell the patient it's received. Returns the outcome; never two holds for
    one idempotency key (a repeat returns the first outcome with ``replayed``).

    Raises ValidationError (field-named, nothing written) for bad input, a ``start`` in the past or beyond
    the type's how-far-ahead limit, a type not offered online, a new patient asking for a type that only
    takes existing patients, or a known patient who already has a visit then (at any location)."""
    if not _KEY_OK.match(idempotency_key or ""):
        raise ValidationError({"idempotency_key": "Send 8-100 letters, digits, '-', '_', ':' or '.'."})
    settings = scheduling_settings()
    if not location.is_active or not settings.public_booking_enabled:
        raise ValidationError({"location": "Online booking is closed here; please call us."})
    if not (appointment_type.is_active and appointment_type.online_bookable):
        raise ValidationError({"appointment_type": "This service can't be booked online."})
    validate_start(start, location=location, appointment_type=appointment_type, online=True)
    requester = clean_requester(requester)
    existing = _find_request(idempotency_key)
    if existing is not None:
        return _replay(existing)
    taken_fields = {
        "location": location,
        "appointment_type": appointment_type,
        "provider": provider,
        "start": start,
        "requester": requester,
        "key": idempotency_key,
        "channel": channel,
    }
    # A first look outside any transaction or lock: in a rush most requests are for times already gone, and
    # they are answered from this read without queueing behind the bookings that can still succeed. A time
    # that looks free is checked again, for real, under the lock.
    first_look = _read_around(location=location, appointment_type=appointment_type, start=start, settings=settings)
    if first_look is None or not _slot_open(first_look, provider_id=provider.pk, start=start):
        return _record_taken(alternatives=_nearest(first_look, start), **taken_fields)

    for _attempt in range(MAX_ATTEMPTS):
        try:
            return _hold_attempt(
                location=location,
                appointment_type=appointment_type,
                provider=provider,
                start=start,
                requester=requester,
                key=idempotency_key,
                channel=channel,
                settings=settings,
            )
        except _Conflict:
            continue  # a concurrent hold committed first: re-read the calendar and try again
        except _NotFree as exc:
            taken = exc
            break
        except IntegrityError:
            existing = _find_request(idempotency_key)
            if existing is not None:  # the same key won a race with itself (double submit)
                return _replay(existing)
            raise
    else:
        taken = _NotFree()
    return _record_taken(alternatives=_nearest(taken.snapshot, start), **taken_fields)


def _read_around(
    *, location: Location, appointment_type: AppointmentType, start: datetime, settings: SchedulingSettings
) -> CalendarSnapshot | None:
    """The calendar of the requested day and the next two, every provider: enough to check the slot and,
    if it's gone, to offer the nearest alternatives from the same read. None if the day is outside the
    online window altogether."""
    window = online_window(location=location, appointment_type=appointment_type)
    day = start.astimezone(location.zone).date()
    if not (window.first_day <= day <= window.last_day):
        return None
    snap = CalendarSnapshot.load(
        location=location,
        appointment_type=appointment_type,
        first_day=day,
        last_day=min(day + timedelta(days=2), window.last_day),
        settings=settings,
    )
    snap.earliest = window.earliest
    return snap


def _slot_open(snap: CalendarSnapshot, *, provider_id: int, start: datetime) -> bool:
    day = start.astimezone(snap.zone).date()
    return any(s.start == start for s in snap.slots(earliest=snap.earliest, provider_id=provider_id).get(day, []))


def _nearest(snap: CalendarSnapshot | None, start: datetime) -> list[Slot]:
    return nearest_in(snap.slots(earliest=snap.earliest), start) if snap is not None else []


@transaction.atomic
def _hold_attempt(
    *,
    location: Location,
    appointment_type: AppointmentType,
    provider: Provider,
    start: datetime,
    requester: Requester,
    key: str,
    channel: str,
    settings: SchedulingSettings,
) -> BookingResult:
    existing = _find_request(key)
    if existing is not None:
        return _replay(existing)
    lock_calendar(location_id=location.pk, provider_ids=[provider.pk])
    snap = _read_around(location=location, appointment_type=appointment_type, start=start, settings=settings)
    if snap is None or not _slot_open(snap, provider_id=provider.pk, start=start):
        raise _NotFree(snap)
    placement = _place(snap, provider_id=provider.pk, start=start)

    match = patient_match(
        first_name=requester.first_name,
        last_name=requester.last_name,
        date_of_birth=requester.date_of_birth,
        email=requester.email,
        phone=requester.phone,
    )
    if match.kind == "new" and not appointment_type.new_patients_allowed:
        raise ValidationError({"appointment_type": EXISTING_PATIENTS_ONLY})
    patient: Patient | None = match.patient
    check_patient_overlap(patient=patient, placement=placement, exclude=None, confirmed=False, online=True)
    identity = IdentityOutcome.LINKED
    if match.kind == "new":
        patient = patient_from_request(requester, location=location, by=ONLINE)
        identity = IdentityOutcome.CREATED
    elif match.kind == "ambiguous":
        identity = IdentityOutcome.AMBIGUOUS

    appointment = _insert(
        placement,
        location=location,
        provider=provider,
        appointment_type=appointment_type,
        patient=patient,
        status=AppointmentStatus.HOLD,
        source=AppointmentSource.ONLINE,
        idempotency_key=key,
        patient_note=requester.note,
        held_at=timezone.now(),
    )
    request = BookingRequest.objects.create(
        **_request_fields(location, appointment_type, provider, start, requester, key, channel),
        outcome=BookingOutcome.HELD,
        identity=identity,
        candidate_patient_ids=match.candidate_ids,
        patient=patient,
        appointment=appointment,
    )
    _audit(appointment, by=ONLINE, verb="appointment.hold_placed", before=None, reason=f"online request #{request.pk}")
    if identity == IdentityOutcome.AMBIGUOUS:
        task_open(
            kind="scheduling.identity",
            title="Online booking: confirm who this is before confirming the hold",
            by=ONLINE,
            location=location,
            priority=TaskPriority.HIGH,
            detail=f"{len(match.candidate_ids)} existing chart(s) look like this requester. Link the right chart "
            "or create a new one from the appointment page.",
            context={"appointment": appointment.pk, "booking_request": request.pk, "candidates": match.candidate_ids},
            dedupe_key=f"sched:identity:{request.pk}",
        )
    elif identity == IdentityOutcome.LINKED:
        contact_offer_open(booking_request=request, patient=patient, by=ONLINE)  # a new email/phone: ask staff
    if requester.note:
        task_open(
            kind="scheduling.note",
            title="Online booking came with a note",
            by=ONLINE,
            patient=patient,
            location=location,
            detail=requester.note,
            context={"appointment": appointment.pk, "booking_request": request.pk},
            dedupe_key=f"sched:note:{request.pk}",
        )
    appointment.booking_request = request
    send_confirmation(
        appointment, template="scheduling/hold_received", dedupe_key=f"sched:appt:{appointment.pk}:received"
    )
    log.info("hold placed: appointment=%s request=%s identity=%s", appointment.pk, request.pk, identity)
    return BookingResult(outcome=BookingOutcome.HELD, request=request, appointment=appointment)


def _record_taken(
    *,
    alternatives: list[Slot],
    location: Location,
    appointment_type: AppointmentType,
    provider: Provider,
    start: datetime,
    requester: Requester,
    key: str,
    channel: str,
) -> BookingResult:
    try:
        with transaction.atomic():
            request = BookingRequest.objects.create(
                **_request_fields(location, appointment_type, provider, start, requester, key, channel),
                outcome=BookingOutcome.TAKEN,
                outcome_detail="The time was taken (or not bookable) when the request arrived.",
            )
    except IntegrityError:
        existing = _find_request(key)
        if existing is None:
            raise
        return _replay(existing)
    log.info("booking request %s lost its slot", request.pk)
    return BookingResult(
        outcome=BookingOutcome.TAKEN,
        request=request,
        alternatives=alternatives
        if len(alternatives) >= 3
        else _alternatives(location=location, appointment_type=appointment_type, around=start),
    )
