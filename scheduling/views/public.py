"""The public booking pages under /book/: no login, phone-first, plain HTML forms (no JavaScript needed).

Pick a service → a day → a time → your details → "request received". Patients come back through signed,
expiring, single-purpose links (scheduling/links.py) to view, reschedule or cancel, and to take an ASAP
offer. Nothing on these pages comes from a chart: only what the visitor typed or booked.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from billing.actors import Actor
from billing.forms import add_service_errors
from billing.models import Location
from scheduling import links
from scheduling.forms import BookingForm, SlotChoiceForm, new_idempotency_key
from scheduling.models import (
    UPCOMING_STATUSES,
    Appointment,
    AppointmentType,
    AsapOffer,
    AsapRequest,
    AsapStatus,
    BookingRequest,
    CancelKind,
    OfferStatus,
)
from scheduling.rules import PUBLIC_SUBMIT_RATE_GROUP
from scheduling.selectors.availability import online_days, online_slots, online_types, online_window, slot_lookup
from scheduling.selectors.settings import scheduling_settings
from scheduling.services.asap import asap_accept, asap_join, offer_context
from scheduling.services.booking import SlotTaken, appointment_reschedule
from scheduling.services.online import Requester, hold_place
from scheduling.services.transitions import appointment_cancel

MANAGE_LINK = Actor.system_component("scheduling.manage-link")
NOT_A_TIME = "Not a valid time. Pick one of the times shown."
DAYS_SHOWN = 14


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render with the location's time zone active, so every time on the page is the location's wall clock."""
    location = context.get("location")
    with timezone.override(location.zone if isinstance(location, Location) else None):
        return render(request, template, context, status=status)


def _booking_rate(group, request) -> str:
    return settings.BOOKING_RATE  # read per request, so operators (and tests) can change it


def _limit(view):
    # One budget per address across every public submission (pages and the bookings API).
    return ratelimit(group=PUBLIC_SUBMIT_RATE_GROUP, key="ip", rate=_booking_rate, method="POST", block=True)(view)


def _location(slug: str) -> Location:
    location = get_object_or_404(Location, slug=slug, is_active=True)
    if not scheduling_settings().public_booking_enabled:
        raise Http404("Online booking is closed.")
    return location


def _parse_day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _day_strip(*, location: Location, appointment_type: AppointmentType, first: date, ignore: int | None = None):
    """Fourteen days from ``first`` with their open slots (one availability read for all of them)."""
    window = online_window(location=location, appointment_type=appointment_type)
    first = max(first, window.first_day)
    last = min(first + timedelta(days=DAYS_SHOWN - 1), window.last_day)
    slots, working = online_days(
        location=location,
        appointment_type=appointment_type,
        first_day=first,
        last_day=last,
        ignore_appointment_id=ignore,
    )
    days = []
    day = first
    while day <= last:
        days.append({"day": day, "slots": slots.get(day, []), "closed": day not in working})
        day += timedelta(days=1)
    more = last + timedelta(days=1) if last < window.last_day else None
    earlier = max(first - timedelta(days=DAYS_SHOWN), window.first_day) if first > window.first_day else None
    return days, more, earlier


@require_http_methods(["GET", "POST"])
@_limit
def booking_page(request: HttpRequest, slug: str) -> HttpResponse:
    location = _location(slug)
    types = online_types(location=location)
    type_id = request.POST.get("type") or request.GET.get("type")
    chosen = next((t for t in types if str(t.pk) == str(type_id)), None)
    context = {"location": location, "types": types, "type": chosen, "zone": location.zone}
    if chosen is None:
        return _render(request, "scheduling/public/choose_service.html", context)
    if request.method == "POST":
        return _submit(request, location=location, appointment_type=chosen, context=context)

    today = timezone.now().astimezone(location.zone).date()
    first = _parse_day(request.GET.get("from"), today)
    days, more, earlier = _day_strip(location=location, appointment_type=chosen, first=first)
    day = _parse_day(request.GET.get("day"), None) if request.GET.get("day") else None
    if day is None:
        day = next((d["day"] for d in days if d["slots"]), None)
    day_slots = next((d["slots"] for d in days if d["day"] == day), None)
    if day is not None and day_slots is None:  # a day outside the strip: compute that day alone
        day_slots = online_slots(location=location, appointment_type=chosen, first_day=day, last_day=day).get(day, [])
    context.update({"days": days, "more": more, "earlier": earlier, "day": day, "day_slots": day_slots or []})

    slot_key = request.GET.get("slot")
    if slot_key:
        provider, start = slot_lookup(slot_key, location=location)
        if provider is None:
            raise Http404("No such time.")
        form = BookingForm(initial={"slot": slot_key, "idempotency_key": new_idempotency_key()})
        context.update({"form": form, "provider": provider, "start": start.astimezone(location.zone)})
        return _render(request, "scheduling/public/details.html", context)
    return _render(request, "scheduling/public/choose_time.html", context)


def _submit(request: HttpRequest, *, location: Location, appointment_type: AppointmentType, context: dict):
    form = BookingForm(request.POST)
    if form.is_bot:
        # A honeypot hit: answer like a success, write nothing, reveal nothing.
        return redirect("booking:thanks", slug=location.slug)
    slot_key = request.POST.get("slot", "")
    provider, start = slot_lookup(slot_key, location=location)
    context.update({"form": form, "provider": provider, "start": None})
    if provider is None:
        form.add_error("slot" if slot_key else None, NOT_A_TIME if slot_key else "Pick a time first.")
    if form.is_valid() and provider is not None:
        data = form.cleaned_data
        try:
            result = hold_place(
                location=location,
                appointment_type=appointment_type,
                provider=provider,
                start=start,
                requester=Requester.from_data(data),
                idempotency_key=data["idempotency_key"],
            )
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            if result.held:
                token = links.make_token(links.REQUEST_RECEIVED, result.request.pk)
                return redirect("booking:received", token=token)
            # Lost the race: same form, the user's input kept, the nearest open times to pick from.
            fresh = request.POST.copy()
            fresh["idempotency_key"] = new_idempotency_key()
            fresh["slot"] = ""
            form = BookingForm(fresh)
            form.is_valid()
            context.update({"form": form, "taken": True, "alternatives": result.alternatives})
            return _render(request, "scheduling/public/details.html", context, status=409)
    if start is not None and not form.has_error("slot"):  # a slot id's time fits a zone (it's at most 11 digits)
        context["start"] = start.astimezone(location.zone)
    return _render(request, "scheduling/public/details.html", context, status=422)


def _service_errors(form: BookingForm, exc: ValidationError) -> None:
    """The service names the visit's time ``start``; on this form the time is the ``slot`` picked."""
    if hasattr(exc, "error_dict") and "start" in exc.error_dict:
        errors = exc.message_dict
        form.add_error("slot", errors.pop("start"))
        exc = ValidationError(errors) if errors else None
    if exc is not None:
        add_service_errors(form, exc)


def thanks(request: HttpRequest, slug: str) -> HttpResponse:
    return _render(request, "scheduling/public/thanks.html", {"location": _location(slug)})


def received(request: HttpRequest, token: str) -> HttpResponse:
    try:
        pk = links.read_token(links.REQUEST_RECEIVED, token, links.RECEIVED_MAX_AGE)
    except links.LinkError as exc:
        return _bad_link(request, exc)
    booking = get_object_or_404(
        BookingRequest.objects.select_related("location", "appointment_type", "provider"), pk=pk
    )
    zone = booking.location.zone
    return _render(
        request,
        "scheduling/public/received.html",
        {"booking": booking, "location": booking.location, "start": booking.requested_start.astimezone(zone)},
    )


def _bad_link(request: HttpRequest, exc: links.LinkError) -> HttpResponse:
    from billing.selectors.practice import practice_get

    return _render(
        request,
        "scheduling/public/bad_link.html",
        {"expired": exc.expired, "practice": practice_get()},
        status=410 if exc.expired else 404,
    )


def _managed(token: str) -> Appointment:
    pk = links.read_token(links.MANAGE, token, timedelta(days=scheduling_settings().manage_link_days))
    return get_object_or_404(
        Appointment.objects.select_related("location", "provider", "appointment_type", "patient"), pk=pk
    )


@require_http_methods(["GET", "POST"])
@_limit
def manage(request: HttpRequest, token: str) -> HttpResponse:
    try:
        appointment = _managed(token)
    except links.LinkError as exc:
        return _bad_link(request, exc)
    upcoming = appointment.status in UPCOMING_STATUSES and appointment.start > timezone.now()
    if request.method == "POST" and upcoming:
        action = request.POST.get("action")
        if action == "cancel":
            appointment_cancel(
                appointment=appointment,
                by=MANAGE_LINK,
                reason=(request.POST.get("reason") or "")[:500],
                kind=CancelKind.PATIENT,
            )
            messages.success(request, "Your appointment is cancelled. We've sent you a note.")
        elif action == "asap" and appointment.patient_id:
            asap_join(
                patient=appointment.patient,
                appointment_type=appointment.appointment_type,
                location=appointment.location,
                appointment=appointment,
                by=MANAGE_LINK,
            )
            messages.success(request, "You're on our early list: we'll write if an earlier time opens up.")
        return redirect("booking:manage", token=token)
    on_asap = (
        appointment.patient_id is not None
        and AsapRequest.objects.filter(
            patient_id=appointment.patient_id, appointment=appointment, status=AsapStatus.WAITING
        ).exists()
    )
    return _render(
        request,
        "scheduling/public/manage.html",
        {
            "appointment": appointment,
            "location": appointment.location,
            "start": appointment.start.astimezone(appointment.location.zone),
            "upcoming": upcoming,
            "on_asap": on_asap,
            "token": token,
        },
    )


@require_http_methods(["GET", "POST"])
@_limit
def reschedule(request: HttpRequest, token: str) -> HttpResponse:
    try:
        appointment = _managed(token)
    except links.LinkError as exc:
        return _bad_link(request, exc)
    location, appointment_type = appointment.location, appointment.appointment_type
    if appointment.status not in UPCOMING_STATUSES or appointment.start <= timezone.now():
        return redirect("booking:manage", token=token)
    context = {"appointment": appointment, "location": location, "token": token, "type": appointment_type}
    status = 200
    if request.method == "POST":
        form = SlotChoiceForm(request.POST)
        provider, start = slot_lookup(request.POST.get("slot", ""), location=location)
        if form.is_valid() and provider is not None:
            try:
                appointment_reschedule(appointment=appointment, start=start, provider=provider, by=MANAGE_LINK)
            except SlotTaken as exc:
                context.update({"taken": True, "alternatives": exc.alternatives})
                status = 409
            except ValidationError as exc:
                context["error"] = " ".join(exc.messages)
                status = 422
            else:
                messages.success(request, "Moved. The practice will confirm your new time shortly.")
                return redirect("booking:manage", token=token)
        else:
            context["error"] = "Pick a new time."
            status = 422
    today = timezone.now().astimezone(location.zone).date()
    first = _parse_day(request.GET.get("from"), today)
    days, more, earlier = _day_strip(
        location=location, appointment_type=appointment_type, first=first, ignore=appointment.pk
    )
    day = _parse_day(request.GET.get("day"), None) if request.GET.get("day") else None
    if day is None:
        day = next((d["day"] for d in days if d["slots"]), None)
    context.update(
        {
            "days": days,
            "more": more,
            "earlier": earlier,
            "day": day,
            "day_slots": next((d["slots"] for d in days if d["day"] == day), []),
            "current": appointment.start.astimezone(location.zone),
            "zone": location.zone,
        }
    )
    return _render(request, "scheduling/public/reschedule.html", context, status=status)


@require_http_methods(["GET", "POST"])
@_limit
def asap_offer(request: HttpRequest, token: str) -> HttpResponse:
    try:
        pk = links.read_token(links.ASAP_OFFER, token, timedelta(hours=scheduling_settings().asap_link_hours))
    except links.LinkError as exc:
        return _bad_link(request, exc)
    offer = get_object_or_404(
        AsapOffer.objects.select_related("request__location", "request__appointment_type", "provider"), pk=pk
    )
    outcome = None
    if request.method == "POST":
        result = asap_accept(offer=offer)
        outcome = "won" if result.won else "gone"
        offer.refresh_from_db()
        if result.won and result.appointment is not None:
            manage_url = reverse("booking:manage", args=[links.make_token(links.MANAGE, result.appointment.pk)])
            return _render(
                request,
                "scheduling/public/offer.html",
                {"offer": offer, "outcome": outcome, "manage_url": manage_url, **offer_context(offer)},
            )
    elif offer.status != OfferStatus.OFFERED:
        outcome = "won" if offer.status == OfferStatus.ACCEPTED else "gone"
    status = 409 if outcome == "gone" else 200
    return _render(
        request,
        "scheduling/public/offer.html",
        {"offer": offer, "outcome": outcome, **offer_context(offer)},
        status=status,
    )
