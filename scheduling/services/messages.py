"""Messages about appointments, through the core's ``notify`` (templates in templates/messages/scheduling/).

Each message carries the minimum: a first name, the service, the local date and time, provider and
location, and the signed link that goes with it. A visit booked online is written to the address typed on
its request (never to a chart's address for a hold staff haven't identified yet, and nothing from a chart).
"""

from __future__ import annotations

from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from billing.actors import Actor
from billing.models import Channel, ContactChannel, Message, Patient
from billing.notifications.services import notify
from billing.validators import format_phone
from scheduling.links import manage_url
from scheduling.models import Appointment, BookingRequest

SENDER = Actor.system_component("scheduling")


def when_text(appointment: Appointment) -> dict[str, str]:
    local = appointment.start.astimezone(appointment.location.zone)
    return {
        "date": f"{local:%A, %B} {local.day}, {local.year}",
        "time": local.strftime("%I:%M %p").lstrip("0"),
        "tz": local.tzname() or "",
    }


def appointment_context(appointment: Appointment, *, first_name: str = "", with_link: bool = True) -> dict:
    location = appointment.location
    context = {
        "first_name": first_name,
        "service": appointment.appointment_type.name,
        "provider": appointment.provider.name,
        "location": location.name,
        "address": location.address,
        "location_phone": format_phone(location.phone),
        **when_text(appointment),
    }
    if with_link:
        context["manage_url"] = manage_url(appointment.pk)
    return context


def _request_for(appointment: Appointment) -> BookingRequest | None:
    try:
        return appointment.booking_request
    except BookingRequest.DoesNotExist:
        return None


def _has_sms(template: str) -> bool:
    try:
        get_template(f"messages/{template}/sms.txt")
    except TemplateDoesNotExist:
        return False
    return True


def send_to_appointment(
    appointment: Appointment,
    *,
    template: str,
    dedupe_key: str,
    extra: dict | None = None,
    channel: str | None = None,
    with_link: bool = True,
) -> Message | None:
    """Write to the appointment's patient (their preferred channel unless ``channel`` says otherwise), or,
    for a hold not yet linked to a chart, by email to the address on the request.

    A visit booked online goes to the email/phone typed for that booking (with the typed first name), even
    when the chart it was linked to has other details: the patient expects it where they said, and staff
    decide separately whether the chart takes the new details (``identity.contact_update_apply``)."""
    patient: Patient | None = appointment.patient
    request = _request_for(appointment)
    if patient is not None:
        name = patient.preferred_name or patient.first_name
        to = ""
        if channel is not None and patient.preferred_channel == ContactChannel.NONE:
            channel = None  # notify records the message as not sent, as the patient asked
        elif request is not None and request.patient_id == patient.pk:
            channel = channel or (Channel.SMS if patient.preferred_channel == ContactChannel.SMS else Channel.EMAIL)
            if channel == Channel.SMS and not _has_sms(template):
                channel = Channel.EMAIL
            to = request.phone if channel == Channel.SMS else request.email
            name = request.first_name
        context = {**appointment_context(appointment, first_name=name, with_link=with_link), **(extra or {})}
        return notify(
            template=template,
            context=context,
            by=SENDER,
            patient=patient,
            to=to,
            channel=channel,
            dedupe_key=dedupe_key,
        )
    if request is None:
        return None
    context = {**appointment_context(appointment, first_name=request.first_name, with_link=with_link), **(extra or {})}
    return notify(
        template=template, context=context, by=SENDER, to=request.email, channel=Channel.EMAIL, dedupe_key=dedupe_key
    )


def send_confirmation(appointment: Appointment, *, template: str, dedupe_key: str, extra: dict | None = None) -> None:
    """A confirmation (request received, confirmed, new time): by email, and by text as well for patients
    who prefer texts. Each once (``dedupe_key`` plus the channel); nothing for a patient who asked for none."""
    patient = appointment.patient
    if patient is None or patient.preferred_channel == ContactChannel.NONE:
        send_to_appointment(appointment, template=template, dedupe_key=dedupe_key, extra=extra)
        return
    send_to_appointment(
        appointment, template=template, dedupe_key=f"{dedupe_key}:email", extra=extra, channel=Channel.EMAIL
    )
    if patient.preferred_channel == ContactChannel.SMS:
        send_to_appointment(
            appointment, template=template, dedupe_key=f"{dedupe_key}:sms", extra=extra, channel=Channel.SMS
        )
