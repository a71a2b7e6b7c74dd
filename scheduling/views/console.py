"""Console pages under /console/calendar/: the day view, an appointment's page with its actions, staff
booking, holds to confirm, recall and the daily reconciliation. Thin: parse, call one service or selector,
render. Every page needs the console role."""

from __future__ import annotations

import re
from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing.actors import Actor
from billing.forms import add_service_errors
from billing.models import Location, Patient
from billing.selectors.practice import locations_active
from billing.views.access import console_required
from scheduling.forms import (
    ContactOfferForm,
    LinkPatientForm,
    MoveForm,
    OptionalReasonForm,
    ReasonForm,
    StaffBookForm,
)
from scheduling.models import Appointment, AppointmentStatus, BookingRequest, ReconciliationReport
from scheduling.selectors.availability import local_to_utc
from scheduling.selectors.calendar import (
    appointments_qs,
    day_view,
    holds_to_confirm,
    membership_badges,
    recall_lists,
    usual_location_id,
)
from scheduling.selectors.reports import reconciliation
from scheduling.services import transitions
from scheduling.services.asap import asap_join
from scheduling.services.booking import (
    PatientOverlap,
    SlotTaken,
    appointment_book,
    appointment_move,
    hold_window_ends,
)
from scheduling.services.identity import contact_keep, contact_offer_pending, contact_update_apply


def _pick_location(request: HttpRequest, prefer_id: int | None = None) -> Location | None:
    """The location asked for, else ``prefer_id`` (the patient's usual location, when booking for one), else
    the one used last (kept in the session), else the first. The active locations are left on
    ``request.calendar_locations`` for the page's picker (one query)."""
    slug = request.GET.get("location") or request.POST.get("location")
    locations = list(locations_active())
    request.calendar_locations = locations
    chosen = next((loc for loc in locations if loc.slug == slug), None)
    if chosen is None and prefer_id:
        chosen = next((loc for loc in locations if loc.pk == prefer_id), None)
    if chosen is None:
        slug = request.session.get("calendar_location")
        chosen = next((loc for loc in locations if loc.slug == slug), None) or (locations[0] if locations else None)
    if chosen is not None and request.session.get("calendar_location") != chosen.slug:
        request.session["calendar_location"] = chosen.slug
    return chosen


def _day(value: str | None, location: Location) -> date:
    try:
        return date.fromisoformat(value) if value else timezone.now().astimezone(location.zone).date()
    except ValueError:
        return timezone.now().astimezone(location.zone).date()


@console_required
def day(request: HttpRequest) -> HttpResponse:
    location = _pick_location(request)
    if location is None:
        return render(request, "scheduling/console/no_locations.html")
    view = day_view(location=location, day=_day(request.GET.get("date"), location))
    return render(
        request,
        "scheduling/console/day.html",
        {"view": view, "locations": request.calendar_locations, "quarters": _quarters(view.first_hour, view.last_hour)},
    )


def _quarters(first_hour: int, last_hour: int) -> list[dict]:
    total = (last_hour - first_hour) * 60
    return [
        {"time": f"{h:02d}:{m:02d}", "top": ((h - first_hour) * 60 + m) * 100 / total, "height": 15 * 100 / total}
        for h in range(first_hour, last_hour)
        for m in (0, 15, 30, 45)
    ]


def _appointment(pk: int) -> Appointment:
    return get_object_or_404(appointments_qs(), pk=pk)


@console_required
def appointment(request: HttpRequest, pk: int) -> HttpResponse:
    appt = _appointment(pk)
    zone = appt.location.zone
    booking = BookingRequest.objects.filter(appointment=appt).first()
    candidates = []
    if booking and appt.patient_id is None and appt.status == AppointmentStatus.HOLD:
        candidates = list(
            Patient.objects.filter(pk__in=booking.candidate_patient_ids).order_by("last_name", "first_name")
        )
    local = appt.start.astimezone(zone)
    return render(
        request,
        "scheduling/console/appointment.html",
        {
            "appt": appt,
            "booking": booking,
            "local_start": local,
            "local_end": appt.end.astimezone(zone),
            "window_ends": hold_window_ends(appt) if appt.is_hold else None,
            "badge": membership_badges([appt.patient_id]).get(appt.patient_id) if appt.patient_id else "",
            "contact_offer": contact_offer_pending(booking_request=booking, patient=appt.patient),
            "link_form": LinkPatientForm(candidates=candidates)
            if booking and appt.is_hold and not appt.patient_id
            else None,
            "reject_form": ReasonForm(),
            "cancel_form": OptionalReasonForm(),
            "move_form": MoveForm(
                location=appt.location,
                initial={"date": local.date(), "time": local.time(), "provider": appt.provider_id},
            ),
        },
    )


def _act(request: HttpRequest, pk: int, action) -> HttpResponse:
    appt = _appointment(pk)
    try:
        action(appt, Actor.of(request.user))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    nxt = request.POST.get("next")
    if nxt and nxt.startswith("/console/"):
        return redirect(nxt)
    return redirect("scheduling:appointment", pk=pk)


@require_POST
@console_required
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    def act(appt, by):
        transitions.hold_confirm(appointment=appt, by=by)
        messages.success(request, "Hold confirmed; the patient has been told.")

    return _act(request, pk, act)


@require_POST
@console_required
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReasonForm(request.POST)

    def act(appt, by):
        if not form.is_valid():
            raise ValidationError("Give a reason: it is sent to the patient.")
        transitions.hold_reject(appointment=appt, by=by, reason=form.cleaned_data["reason"])
        messages.success(request, "Hold rejected; the patient has been told why.")

    return _act(request, pk, act)


@require_POST
@console_required
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    form = OptionalReasonForm(request.POST)
    form.is_valid()

    def act(appt, by):
        transitions.appointment_cancel(appointment=appt, by=by, reason=form.cleaned_data.get("reason", ""))
        messages.success(request, "Appointment cancelled.")

    return _act(request, pk, act)


def _who(appt: Appointment) -> str:
    return appt.patient.full_name if appt.patient else "The patient"


@require_POST
@console_required
def check_in(request: HttpRequest, pk: int) -> HttpResponse:
    def act(appt, by):
        done = transitions.appointment_check_in(appointment=appt, by=by)
        messages.success(request, f"{_who(appt)} checked in at {_local_time(done.checked_in_at, appt)}.")

    return _act(request, pk, act)


@require_POST
@console_required
def complete(request: HttpRequest, pk: int) -> HttpResponse:
    def act(appt, by):
        done = transitions.appointment_complete(appointment=appt, by=by)
        messages.success(request, f"Visit completed at {_local_time(done.completed_at, appt)}.")

    return _act(request, pk, act)


@require_POST
@console_required
def no_show(request: HttpRequest, pk: int) -> HttpResponse:
    def act(appt, by):
        transitions.appointment_no_show(appointment=appt, by=by)
        messages.success(request, f"{_who(appt)} marked as a no-show.")

    return _act(request, pk, act)


def _local_time(moment, appt: Appointment) -> str:
    return (moment or timezone.now()).astimezone(appt.location.zone).strftime("%H:%M")


@require_POST
@console_required
def asap(request: HttpRequest, pk: int) -> HttpResponse:
    def act(appt, by):
        if appt.patient is None:
            raise ValidationError("Link the request to a chart first.")
        asap_join(
            patient=appt.patient,
            appointment_type=appt.appointment_type,
            location=appt.location,
            appointment=appt,
            by=by,
        )
        messages.success(request, "Added to the ASAP list.")

    return _act(request, pk, act)


@require_POST
@console_required
def link_patient(request: HttpRequest, pk: int) -> HttpResponse:
    appt = _appointment(pk)
    booking = BookingRequest.objects.filter(appointment=appt).first()
    candidates = list(Patient.objects.filter(pk__in=booking.candidate_patient_ids)) if booking else []
    form = LinkPatientForm(request.POST, candidates=candidates)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or "Pick a chart.")
        return redirect("scheduling:appointment", pk=pk)

    def act(appt, by):
        patient = next((p for p in candidates if p.pk == form.cleaned_data["patient"]), None)
        transitions.hold_link_patient(
            appointment=appt, by=by, patient=patient, create_new=form.cleaned_data["create_new"]
        )
        messages.success(request, "Identity confirmed. You can confirm the hold now.")

    return _act(request, pk, act)


@require_POST
@console_required
def contact_details(request: HttpRequest, pk: int) -> HttpResponse:
    """The answer to "the patient typed a new email / phone": update the chart with the ticked ones, or keep it."""
    appt = _appointment(pk)
    booking = BookingRequest.objects.select_related("patient", "location").filter(appointment=appt).first()
    form = ContactOfferForm(request.POST)
    if booking is None or not form.is_valid():
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs) or "Nothing to update.")
        return redirect("scheduling:appointment", pk=pk)

    def act(appt, by):
        if form.cleaned_data["action"] == "keep":
            contact_keep(booking_request=booking, by=by)
            messages.success(request, "Kept the chart's details. Messages about this visit go where the patient typed.")
        else:
            contact_update_apply(booking_request=booking, by=by, fields=form.cleaned_data["fields"])
            messages.success(request, "Chart updated with the " + " and ".join(form.cleaned_data["fields"]) + ".")

    return _act(request, pk, act)


_PICK = re.compile(r"([0-9]{1,18})\|([0-9]{4}-[0-9]{2}-[0-9]{2})\|([0-9]{2}:[0-9]{2})")


def _with_pick(post) -> tuple:
    """A "nearest open time" button posts the form with ``pick=<provider>|<date>|<time>``: that provider, day
    and time replace the form's (any free operatory). Returns (data, error)."""
    pick = post.get("pick")
    if not pick:
        return post, ""
    found = _PICK.fullmatch(pick)
    if found is None:
        return post, "That suggested time couldn't be read. Pick it again, or type the time."
    data = post.copy()
    data["provider"], data["date"], data["time"] = found.groups()
    data["operatory"] = ""
    return data, ""


CLASH = "That time isn't free for this provider (or no operatory is). Nearest open times below."


def _try_write(form, write) -> tuple[bool, list]:
    """Run one booking write; a clash or a refused input lands on the form. Returns (done, alternatives)."""
    try:
        write()
    except SlotTaken as exc:
        form.add_error(None, CLASH)
        return False, exc.alternatives
    except PatientOverlap as exc:
        form.warn_patient_overlap(exc)
        return False, []
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "start" in exc.error_dict:  # the service's name for date + time
            errors = exc.message_dict
            form.add_error("date", errors.pop("start"))
            exc = ValidationError(errors) if errors else None
        if exc is not None:
            add_service_errors(form, exc)
        return False, []
    return True, []


@console_required
def move(request: HttpRequest, pk: int) -> HttpResponse:
    appt = _appointment(pk)
    data, pick_error = _with_pick(request.POST) if request.method == "POST" else (None, "")
    form = MoveForm(data, location=appt.location)
    alternatives = []
    if pick_error:
        form.is_valid()
        form.add_error(None, pick_error)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, alternatives = _try_write(
            form,
            lambda: appointment_move(
                appointment=appt,
                start=local_to_utc(data["date"], data["time"], appt.location.zone),
                provider=data["provider"],
                operatory=data["operatory"],
                reason=data["reason"],
                override_hours=data["override_hours"],
                confirm_patient_overlap=data.get("confirm_patient_overlap", False),
                by=Actor.of(request.user),
            ),
        )
        if ok:
            messages.success(request, "Moved.")
            return redirect("scheduling:appointment", pk=pk)
    return render(
        request,
        "scheduling/console/move.html",
        {"appt": appt, "form": form, "alternatives": alternatives, "zone": appt.location.zone},
        status=422 if request.method == "POST" else 200,
    )


@console_required
def book(request: HttpRequest, patient_pk: int | None = None) -> HttpResponse:
    """Staff booking. The location is the one the page was opened for (a calendar's Book button or free
    slot), else the patient's usual one; a "nearest open time" button books that time with the same form."""
    patient = None
    pid = patient_pk or request.GET.get("patient") or request.POST.get("patient")
    if pid and str(pid).isdigit():
        patient = Patient.objects.filter(pk=pid).first()
    location = _pick_location(request, prefer_id=usual_location_id(patient) if patient else None)
    if location is None:
        return render(request, "scheduling/console/no_locations.html")
    initial = {"patient": patient.pk if patient else None}
    for name in ("provider", "date", "time"):
        if request.GET.get(name):
            initial[name] = request.GET[name]
    data, pick_error = _with_pick(request.POST) if request.method == "POST" else (None, "")
    form = StaffBookForm(data, location=location, initial=initial)
    alternatives = []
    if pick_error:
        form.is_valid()
        form.add_error(None, pick_error)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        patient = Patient.objects.filter(pk=data["patient"]).first()
        if patient is None:
            form.add_error(None, "Pick a patient first (search above).")
        else:
            ok, alternatives = _try_write(
                form,
                lambda: appointment_book(
                    location=location,
                    appointment_type=data["appointment_type"],
                    provider=data["provider"],
                    start=local_to_utc(data["date"], data["time"], location.zone),
                    patient=patient,
                    operatory=data["operatory"],
                    note=data["note"],
                    override_hours=data["override_hours"],
                    notify_patient=data["notify_patient"],
                    confirm_patient_overlap=data.get("confirm_patient_overlap", False),
                    by=Actor.of(request.user),
                ),
            )
            if ok:
                messages.success(request, f"Booked {patient.full_name}.")
                return redirect(
                    reverse("scheduling:day") + f"?location={location.slug}&date={data['date'].isoformat()}"
                )
    q = request.GET.get("q", "").strip()
    found = []
    if q and patient is None:
        from billing.selectors.patients import patient_search

        found = list(patient_search(q=q)[:20])
    return render(
        request,
        "scheduling/console/book.html",
        {
            "form": form,
            "location": location,
            "locations": request.calendar_locations,
            "patient": patient,
            "q": q,
            "found": found,
            "alternatives": alternatives,
            "zone": location.zone,
        },
        status=422 if request.method == "POST" else 200,
    )


@console_required
def holds(request: HttpRequest) -> HttpResponse:
    return render(
        request, "scheduling/console/holds.html", {"holds": holds_to_confirm(limit=200), "reject_form": ReasonForm()}
    )


@console_required
def recall(request: HttpRequest) -> HttpResponse:
    location = _pick_location(request)
    return render(
        request,
        "scheduling/console/recall.html",
        {"lists": recall_lists(location=location), "location": location, "locations": request.calendar_locations},
    )


@console_required
def reconciliation_page(request: HttpRequest) -> HttpResponse:
    location = _pick_location(request)
    if location is None:
        return render(request, "scheduling/console/no_locations.html")
    day_value = _day(request.GET.get("day"), location)
    report = reconciliation(location=location, day=day_value)
    sent = ReconciliationReport.objects.filter(location=location, day=day_value).select_related("message").first()
    return render(
        request,
        "scheduling/console/reconciliation.html",
        {"report": report, "locations": request.calendar_locations, "sent": sent},
    )
