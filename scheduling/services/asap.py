"""The ASAP list: patients who want an earlier time hear about an opening; the first to accept gets it.

An opening (a future visit cancelled, rejected or moved away) is offered to up to
``settings.asap_offer_limit`` waiting patients whose type fits there, oldest request first, each with a
signed link. Accepting goes through the same conflict-proof path as any booking (a new hold, or moving
the patient's existing appointment earlier), so two accepts can never both win; the others are told the
time is gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.actors import Actor
from billing.models import Location, Patient
from billing.notifications.services import notify
from billing.services.audit import audit_record, snapshot
from scheduling.db import lock_calendar
from scheduling.links import asap_offer_url
from scheduling.models import (
    UPCOMING_STATUSES,
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    AppointmentType,
    AsapOffer,
    AsapRequest,
    AsapStatus,
    OfferStatus,
    Provider,
)
from scheduling.selectors.availability import CalendarSnapshot
from scheduling.selectors.settings import scheduling_settings

from .booking import PatientOverlap, SlotTaken, _audit, _Conflict, _insert, _NotFree, _place, appointment_move
from .messages import SENDER, appointment_context

log = logging.getLogger(__name__)
ASAP = Actor.system_component("scheduling.asap")
# An opening closer than this is not worth offering: nobody could get there.
MIN_LEAD = timedelta(minutes=60)


@transaction.atomic
def asap_join(
    *,
    patient: Patient,
    appointment_type: AppointmentType,
    location: Location,
    by: Actor,
    appointment: Appointment | None = None,
) -> AsapRequest:
    """Put a patient on the ASAP list for a type at a location (with their current appointment, to move it
    earlier). Joining twice returns the waiting request."""
    if appointment is not None and appointment.status not in UPCOMING_STATUSES:
        raise ValidationError({"appointment": "Only an upcoming appointment can be moved earlier."})
    existing = AsapRequest.objects.filter(
        patient=patient, location=location, appointment_type=appointment_type, status=AsapStatus.WAITING
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            request = AsapRequest.objects.create(
                patient=patient, location=location, appointment_type=appointment_type, appointment=appointment
            )
    except IntegrityError:
        return AsapRequest.objects.get(
            patient=patient, location=location, appointment_type=appointment_type, status=AsapStatus.WAITING
        )
    audit_record(
        actor=by, verb="asap.joined", target=request, after=snapshot(request), patient=patient, location=location
    )
    return request


@transaction.atomic
def asap_withdraw(*, request: AsapRequest, by: Actor) -> AsapRequest:
    locked = AsapRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != AsapStatus.WAITING:
        return locked
    before = snapshot(locked)
    locked.status, locked.closed_at = AsapStatus.WITHDRAWN, timezone.now()
    locked.save(update_fields=["status", "closed_at"])
    audit_record(
        actor=by, verb="asap.withdrawn", target=locked, before=before, after=snapshot(locked), patient=locked.patient
    )
    return locked


@dataclass
class OpeningResult:
    offered: int = 0


def asap_offer_opening(
    *, location_id: int, provider_id: int, start: datetime, now: datetime | None = None
) -> OpeningResult:
    """Offer a freed time to the ASAP list. Runs in the worker after the cancellation commits; running it
    twice offers nothing new (one offer per request and opening, by a unique constraint)."""
    now = now or timezone.now()
    if start < now + MIN_LEAD:
        return OpeningResult()
    settings = scheduling_settings()
    location = Location.objects.get(pk=location_id)
    waiting = list(
        AsapRequest.objects.filter(location_id=location_id, status=AsapStatus.WAITING)
        .select_related("patient", "appointment_type", "appointment")
        .order_by("created_at", "id")[: settings.asap_offer_limit * 4]
    )
    opening_key = f"{provider_id}-{int(start.timestamp())}"
    day = start.astimezone(location.zone).date()
    snapshots: dict[int, CalendarSnapshot] = {}
    provider = Provider.objects.get(pk=provider_id)
    result = OpeningResult()
    for request in waiting:
        if result.offered >= settings.asap_offer_limit:
            break
        current = request.appointment
        if current is not None and (current.status not in UPCOMING_STATUSES or current.start <= start):
            continue  # nothing to gain: their visit is already sooner (or gone)
        t = request.appointment_type
        if t.id not in snapshots:
            snapshots[t.id] = CalendarSnapshot.load(
                location=location, appointment_type=t, first_day=day, last_day=day, provider_ids=[provider_id]
            )
        snap = snapshots[t.id]
        try:
            _place(snap, provider_id=provider_id, start=start)
        except _NotFree:
            continue
        with transaction.atomic():
            offer, created = AsapOffer.objects.get_or_create(
                request=request, opening_key=opening_key, defaults={"provider_id": provider_id, "start": start}
            )
            if not created:
                continue
            local = start.astimezone(location.zone)
            offer.message = notify(
                template="scheduling/asap_offer",
                context={
                    "first_name": request.patient.preferred_name or request.patient.first_name,
                    "service": t.name,
                    "provider": provider.name,
                    "location": location.name,
                    "date": f"{local:%A, %B} {local.day}",
                    "time": local.strftime("%I:%M %p").lstrip("0"),
                    "offer_url": asap_offer_url(offer.pk),
                    "hours": settings.asap_link_hours,
                },
                by=SENDER,
                patient=request.patient,
                dedupe_key=f"sched:asap-offer:{offer.pk}",
            )
            offer.save(update_fields=["message"])
            result.offered += 1
    if result.offered:
        log.info("asap opening %s offered to %s", opening_key, result.offered)
    return result


@dataclass
class AcceptResult:
    won: bool
    appointment: Appointment | None = None


def asap_accept(*, offer: AsapOffer) -> AcceptResult:
    """The patient takes the offered time. First accept wins: the booking goes through the conflict-proof
    path (a move of their appointment, or a new hold keyed by the opening so it exists once); a loser's
    offer is marked gone. Afterwards every other offer of the opening is marked gone and told so."""
    try:
        with transaction.atomic():
            locked = (
                AsapOffer.objects.select_for_update(of=("self",))
                .select_related(
                    "request__patient",
                    "request__appointment",
                    "request__location",
                    "request__appointment_type",
                    "provider",
                )
                .get(pk=offer.pk)
            )
            if locked.status != OfferStatus.OFFERED or locked.request.status != AsapStatus.WAITING:
                return AcceptResult(won=locked.status == OfferStatus.ACCEPTED, appointment=locked.appointment)
            if locked.start <= timezone.now():
                raise _NotFree()
            request = locked.request
            appointment = _take(locked)
            locked.status, locked.responded_at, locked.appointment = OfferStatus.ACCEPTED, timezone.now(), appointment
            locked.save(update_fields=["status", "responded_at", "appointment"])
            request.status, request.closed_at = AsapStatus.BOOKED, timezone.now()
            request.save(update_fields=["status", "closed_at"])
            audit_record(
                actor=ASAP, verb="asap.accepted", target=locked, patient=request.patient, location=request.location
            )
            _tell_the_others(locked)
            return AcceptResult(won=True, appointment=appointment)
    except (_NotFree, SlotTaken, _Conflict, PatientOverlap):  # the patient is booked elsewhere then: not theirs
        AsapOffer.objects.filter(pk=offer.pk, status=OfferStatus.OFFERED).update(
            status=OfferStatus.GONE, responded_at=timezone.now()
        )
        return AcceptResult(won=False)


def _take(offer: AsapOffer) -> Appointment:
    request = offer.request
    current = request.appointment
    if current is not None and current.status in UPCOMING_STATUSES:
        # Raises SlotTaken if someone else has the time by now; the move is all-or-nothing.
        return appointment_move(
            appointment=current, start=offer.start, provider=offer.provider, by=ASAP, reason=f"ASAP offer #{offer.pk}"
        )
    t = request.appointment_type
    lock_calendar(location_id=request.location_id, provider_ids=[offer.provider_id])
    snap = CalendarSnapshot.load(
        location=request.location,
        appointment_type=t,
        first_day=offer.start.astimezone(request.location.zone).date(),
        last_day=offer.start.astimezone(request.location.zone).date(),
        provider_ids=[offer.provider_id],
    )
    placement = _place(snap, provider_id=offer.provider_id, start=offer.start)
    try:
        appointment = _insert(
            placement,
            location=request.location,
            provider=offer.provider,
            appointment_type=t,
            patient=request.patient,
            status=AppointmentStatus.HOLD,
            source=AppointmentSource.ONLINE,
            idempotency_key=f"asap:{offer.opening_key}",
            held_at=timezone.now(),
        )
    except IntegrityError:
        raise _NotFree() from None  # the opening's key is taken: another accept won
    _audit(appointment, by=ASAP, verb="appointment.hold_placed", before=None, reason=f"ASAP offer #{offer.pk}")
    return appointment


def _tell_the_others(winner: AsapOffer) -> None:
    others = list(
        AsapOffer.objects.filter(opening_key=winner.opening_key, status=OfferStatus.OFFERED)
        .exclude(pk=winner.pk)
        .select_related("request__patient")
    )
    AsapOffer.objects.filter(pk__in=[o.pk for o in others], status=OfferStatus.OFFERED).update(
        status=OfferStatus.GONE, responded_at=timezone.now()
    )
    for other in others:
        patient = other.request.patient
        notify(
            template="scheduling/asap_gone",
            context={"first_name": patient.preferred_name or patient.first_name},
            by=SENDER,
            patient=patient,
            dedupe_key=f"sched:asap-gone:{other.pk}",
        )


def offer_context(offer: AsapOffer) -> dict:
    """What the offer page shows: the time on offer, nothing about anyone else."""
    request = offer.request
    fake = Appointment(
        location=request.location, provider=offer.provider, appointment_type=request.appointment_type, start=offer.start
    )
    return appointment_context(fake, with_link=False)
