"""Who is booking? Match an online request to a chart, or decide a new chart is safe, or ask a person.

The rule (issue 4): normalised name + date of birth + (email or phone). Exactly one chart matches on all
of them → that chart. Nothing close → a new chart is safe. Anything in between (two charts match, or a
chart has the same name and birth date but other contact details, or the same contact details and birth
date under a changed name) → ambiguous: the hold is kept and staff decide, so a duplicate chart is never
made silently.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from billing.actors import Actor
from billing.models import Patient, StaffTask, TaskStatus
from billing.services.audit import audit_record
from billing.services.patients import patient_update
from billing.services.staff_tasks import task_open, task_resolve
from scheduling.models import BookingRequest


def normalize_name(value: str) -> str:
    """ "  José-Luis O'Neil " → "joseluisoneil": accents, case, spaces and punctuation don't decide identity."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch)).casefold()


@dataclass(frozen=True)
class Match:
    kind: str  # "linked", "new" or "ambiguous"
    patient: Patient | None = None
    candidate_ids: list[int] = field(default_factory=list)


def patient_match(*, first_name: str, last_name: str, date_of_birth: date, email: str, phone: str) -> Match:
    """One query (the charts born that day), then the comparison in Python. ``email`` and ``phone`` must
    already be normalised (billing.validators)."""
    first, last = normalize_name(first_name), normalize_name(last_name)
    email = (email or "").casefold()
    full: list[Patient] = []
    near: list[Patient] = []
    for p in Patient.objects.filter(date_of_birth=date_of_birth).only(
        "id", "first_name", "last_name", "preferred_name", "email", "phone", "preferred_channel", "is_active"
    ):
        first_ok = first in {normalize_name(p.first_name), normalize_name(p.preferred_name)} - {""}
        last_ok = last == normalize_name(p.last_name)
        contact_ok = bool(email and p.email and p.email.casefold() == email) or bool(phone and p.phone == phone)
        if first_ok and last_ok and contact_ok:
            full.append(p)
        elif (first_ok and last_ok) or (contact_ok and (first_ok or last_ok)):
            near.append(p)
    if len(full) == 1 and full[0].is_active:
        return Match(kind="linked", patient=full[0])
    if full or near:
        return Match(kind="ambiguous", candidate_ids=sorted(p.pk for p in [*full, *near]))
    return Match(kind="new")


# --- Contact details typed on a request for a linked chart -------------------------------------------------
# The booking page never changes a chart (a visitor must not be able to rewrite someone's address), so when
# a request is linked to an existing chart, a new email or phone stays on the request and staff are asked.

CONTACT_TASK = "scheduling.contact_changed"


def contact_changes(*, booking_request: BookingRequest, patient: Patient) -> dict[str, str]:
    """The contact details typed on the request that differ from the chart: ``{"email": ..., "phone": ...}``
    (only the ones that differ; empty when the chart already has what was typed)."""
    changes: dict[str, str] = {}
    if booking_request.email and booking_request.email.casefold() != (patient.email or "").casefold():
        changes["email"] = booking_request.email
    if booking_request.phone and booking_request.phone != (patient.phone or ""):
        changes["phone"] = booking_request.phone
    return changes


def contact_offer_open(*, booking_request: BookingRequest, patient: Patient, by: Actor) -> StaffTask | None:
    """Raise a task asking staff whether the chart should take the email/phone typed on this request (once
    per request). None when nothing differs. Call it inside the transaction that links the chart."""
    changes = contact_changes(booking_request=booking_request, patient=patient)
    if not changes:
        return None
    what = " and ".join({"email": "an email", "phone": "a phone number"}[k] for k in changes)
    task, _ = task_open(
        kind=CONTACT_TASK,
        title=f"Online booking typed {what} that differs from the chart",
        by=by,
        patient=patient,
        location=booking_request.location,
        detail="Update the chart, or keep it as it is, from the appointment page.",
        context={
            "appointment": booking_request.appointment_id,
            "booking_request": booking_request.pk,
            "fields": sorted(changes),
        },
        dedupe_key=f"sched:contact:{booking_request.pk}",
    )
    return task


def contact_offer_pending(*, booking_request: BookingRequest | None, patient: Patient | None) -> dict[str, str]:
    """What to offer staff on the appointment page: the typed details still differing from the chart while
    the request's contact task is open (empty once someone updated the chart or chose to keep it)."""
    if booking_request is None or patient is None or booking_request.patient_id != patient.pk:
        return {}
    changes = contact_changes(booking_request=booking_request, patient=patient)
    if not changes:
        return {}
    if not _open_contact_tasks(booking_request).exists():
        return {}
    return changes


def _open_contact_tasks(booking_request: BookingRequest):
    return StaffTask.objects.filter(
        kind=CONTACT_TASK, status=TaskStatus.OPEN, context__booking_request=booking_request.pk
    )


@transaction.atomic
def contact_update_apply(
    *, booking_request: BookingRequest, by: Actor, fields: Iterable[str] = ("email", "phone")
) -> Patient:
    """Staff chose to put the typed email and/or phone (``fields``) on the chart the request is linked to:
    one patient update (audited by billing) and the request's contact task closed. Refuses a request
    without a chart, or a field that isn't a contact detail."""
    fields = set(fields)
    unknown = fields - {"email", "phone"}
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Only the email and phone can be taken from a request."))
    if not fields:
        raise ValidationError({"fields": "Tick the email, the phone, or both."})
    if booking_request.patient_id is None:
        raise ValidationError({"patient": "Link the request to a chart first."})
    patient = Patient.objects.get(pk=booking_request.patient_id)
    changes = {
        k: v for k, v in contact_changes(booking_request=booking_request, patient=patient).items() if k in fields
    }
    if changes:
        patient = patient_update(
            patient=patient, by=by, reason=f"typed on online booking request #{booking_request.pk}", **changes
        )
    for task in _open_contact_tasks(booking_request).select_for_update():
        task_resolve(task=task, by=by, note="Chart updated with the " + " and ".join(sorted(changes) or fields) + ".")
    return patient


@transaction.atomic
def contact_keep(*, booking_request: BookingRequest, by: Actor) -> None:
    """Staff chose to keep the chart's email and phone: the request keeps what was typed (messages about
    this booking still go there), the chart is untouched, the decision is audited and the task closed."""
    changes = (
        contact_changes(booking_request=booking_request, patient=booking_request.patient)
        if booking_request.patient_id
        else {}
    )
    audit_record(
        actor=by,
        verb="booking.contact_kept",
        target=booking_request,
        patient=booking_request.patient,
        location=booking_request.location,
        reason="kept the chart's " + (" and ".join(sorted(changes)) or "details"),
    )
    for task in _open_contact_tasks(booking_request).select_for_update():
        task_resolve(task=task, by=by, note="Kept the chart's details.")
