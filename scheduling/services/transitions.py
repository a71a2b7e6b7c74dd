"""An appointment's life after it is on the calendar: one function per status transition.

Each locks the row (``select_for_update``), checks the status it may leave, writes the change and an audit
event in the same transaction, and tells the patient where that is part of the transition.

    hold ──confirm──▶ confirmed ──check in──▶ checked in ──complete──▶ completed
      │                  │  └──────────────complete──────────────────────▲
      ├─reject─▶ cancelled ◀─cancel─┤
      ├─cancel─▶ cancelled          └──no-show──▶ no-show
      └─(job: start passed unconfirmed)─▶ expired

Cancelled, no-show and expired appointments stop blocking their time because of their status (the
exclusion constraints are partial on the active statuses); nothing else has to happen for the slot to
open, and a future slot that opens is offered to the ASAP list.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing.actors import Actor
from billing.models import Patient, StaffTask, TaskPriority, TaskStatus
from billing.services.audit import snapshot
from billing.services.staff_tasks import task_open, task_resolve
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    BookingRequest,
    CancelKind,
    IdentityOutcome,
)

from .booking import APPOINTMENT_FIELDS, _audit, _opening_freed
from .identity import contact_offer_open
from .messages import send_confirmation, send_to_appointment
from .online import patient_from_request

S = AppointmentStatus
HOLD_TASK_KINDS = ("scheduling.identity", "scheduling.hold_overdue", "scheduling.hold_expired")


def _lock(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("location", "appointment_type", "provider", "patient")
        .get(pk=appointment.pk)
    )


def _refuse(locked: Appointment, action: str) -> ValidationError:
    return ValidationError(
        {"status": f"This appointment is {locked.get_status_display().lower()}; it can't be {action}."}
    )


def _close_hold_tasks(appointment: Appointment, *, by: Actor, note: str) -> None:
    """Staff acted on the hold: the tasks that asked them to are done."""
    for task in StaffTask.objects.filter(
        kind__in=HOLD_TASK_KINDS, status=TaskStatus.OPEN, context__appointment=appointment.pk
    ):
        task_resolve(task=task, by=by, note=note)


@transaction.atomic
def hold_confirm(*, appointment: Appointment, by: Actor) -> Appointment:
    """Staff accept an online hold: it becomes a confirmed appointment and the patient is told, with their
    manage link. Refused while nobody has confirmed which chart the request belongs to."""
    locked = _lock(appointment)
    if locked.status != S.HOLD:
        raise _refuse(locked, "confirmed")
    if locked.patient_id is None:
        raise ValidationError({"patient": "Confirm who this is first: link the request to a chart or create one."})
    before = snapshot(locked, APPOINTMENT_FIELDS)
    locked.status = S.CONFIRMED
    locked.confirmed_at = timezone.now()
    locked.confirmed_by = by.user
    locked.save(update_fields=["status", "confirmed_at", "confirmed_by", "updated_at"])
    _audit(locked, by=by, verb="appointment.confirmed", before=before)
    _close_hold_tasks(locked, by=by, note=f"Hold confirmed by {by.label}.")
    send_confirmation(
        locked,
        template="scheduling/confirmed",
        dedupe_key=f"sched:appt:{locked.pk}:confirmed:{locked.reschedule_count}",
    )
    return locked


@transaction.atomic
def hold_reject(*, appointment: Appointment, by: Actor, reason: str) -> Appointment:
    """Staff turn down an online hold, saying why; the patient is told the reason and the time opens up."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Tell the patient why (it is sent to them)."})
    locked = _lock(appointment)
    if locked.status != S.HOLD:
        raise _refuse(locked, "rejected")
    before = snapshot(locked, APPOINTMENT_FIELDS)
    locked.status = S.CANCELLED
    locked.cancel_kind = CancelKind.REJECTED
    locked.cancel_reason = reason[:500]
    locked.cancelled_at = timezone.now()
    locked.save(update_fields=["status", "cancel_kind", "cancel_reason", "cancelled_at", "updated_at"])
    _audit(locked, by=by, verb="appointment.rejected", before=before, reason=reason)
    _close_hold_tasks(locked, by=by, note=f"Hold rejected by {by.label}: {reason}")
    send_to_appointment(
        locked,
        template="scheduling/rejected",
        dedupe_key=f"sched:appt:{locked.pk}:rejected",
        extra={"reason": reason[:500]},
        with_link=False,
    )
    _opening_freed(locked, locked.start, locked.provider_id)
    return locked


@transaction.atomic
def appointment_cancel(
    *, appointment: Appointment, by: Actor, reason: str = "", kind: str = CancelKind.PRACTICE
) -> Appointment:
    """Cancel a hold or a confirmed appointment (the patient from their link, or staff). The time opens up
    at once (status), the patient gets a note, and a future opening goes to the ASAP list."""
    if kind not in (CancelKind.PATIENT, CancelKind.PRACTICE):
        raise ValidationError({"kind": "Cancelled by the patient or by the practice."})
    locked = _lock(appointment)
    if locked.status not in (S.HOLD, S.CONFIRMED):
        raise _refuse(locked, "cancelled")
    before = snapshot(locked, APPOINTMENT_FIELDS)
    locked.status = S.CANCELLED
    locked.cancel_kind = kind
    locked.cancel_reason = (reason or "").strip()[:500]
    locked.cancelled_at = timezone.now()
    locked.save(update_fields=["status", "cancel_kind", "cancel_reason", "cancelled_at", "updated_at"])
    _audit(locked, by=by, verb="appointment.cancelled", before=before, reason=locked.cancel_reason)
    _close_hold_tasks(locked, by=by, note="Appointment cancelled.")
    send_to_appointment(
        locked,
        template="scheduling/cancelled",
        dedupe_key=f"sched:appt:{locked.pk}:cancelled",
        extra={"by_patient": kind == CancelKind.PATIENT},
        with_link=False,
    )
    _opening_freed(locked, locked.start, locked.provider_id)
    return locked


@transaction.atomic
def appointment_check_in(*, appointment: Appointment, by: Actor) -> Appointment:
    locked = _lock(appointment)
    if locked.status != S.CONFIRMED:
        raise _refuse(locked, "checked in")
    before = snapshot(locked, APPOINTMENT_FIELDS)
    locked.status = S.CHECKED_IN
    locked.checked_in_at = timezone.now()
    locked.save(update_fields=["status", "checked_in_at", "updated_at"])
    _audit(locked, by=by, verb="appointment.checked_in", before=before)
    return locked


@transaction.atomic
def appointment_complete(*, appointment: Appointment, by: Actor) -> Appointment:
    """The visit happened. For a recall type this sets the patient's next recall due date."""
    from .recall import recall_set_from_visit

    locked = _lock(appointment)
    if locked.status not in (S.CONFIRMED, S.CHECKED_IN):
        raise _refuse(locked, "completed")
    before = snapshot(locked, APPOINTMENT_FIELDS)
    locked.status = S.COMPLETED
    locked.completed_at = timezone.now()
    locked.save(update_fields=["status", "completed_at", "updated_at"])
    _audit(locked, by=by, verb="appointment.completed", before=before)
    if locked.appointment_type.is_recall_type:
        recall_set_from_visit(appointment=locked, by=by)
    return locked


@transaction.atomic
def appointment_no_show(*, appointment: Appointment, by: Actor, reason: str = "") -> Appointment:
    locked = _lock(appointment)
    if locked.status != S.CONFIRMED:
        raise _refuse(locked, "marked a no-show")
    before = snapshot(locked, APPOINTMENT_FIELDS)
    locked.status = S.NO_SHOW
    locked.save(update_fields=["status", "updated_at"])
    _audit(locked, by=by, verb="appointment.no_show", before=before, reason=reason)
    return locked


@transaction.atomic
def hold_expire(*, appointment: Appointment, by: Actor, now: datetime | None = None) -> Appointment | None:
    """The hold's visit time came while it was still unconfirmed: it becomes "hold expired" (it stays on the
    calendar, greyed, and stops blocking) and the front desk gets a task to follow up. None if staff acted
    on it in the meantime."""
    now = now or timezone.now()
    locked = _lock(appointment)
    if locked.status != S.HOLD or locked.start > now:
        return None
    before = snapshot(locked, APPOINTMENT_FIELDS)
    locked.status = S.EXPIRED
    locked.save(update_fields=["status", "updated_at"])
    _audit(locked, by=by, verb="appointment.hold_expired", before=before, reason="unconfirmed when its time came")
    task_open(
        kind="scheduling.hold_expired",
        title="Online hold expired without confirmation: contact the patient",
        by=by,
        patient=locked.patient,
        location=locked.location,
        priority=TaskPriority.HIGH,
        context={"appointment": locked.pk},
        dedupe_key=f"sched:hold-expired:{locked.pk}",
    )
    return locked


@transaction.atomic
def hold_link_patient(
    *, appointment: Appointment, by: Actor, patient: Patient | None = None, create_new: bool = False
) -> Appointment:
    """Staff settle who an ambiguous online request is from: link one of the charts, or (having checked
    there is none) create a new chart from the request. Then the hold can be confirmed."""
    if (patient is None) == (not create_new):
        raise ValidationError({"patient": "Pick the patient's chart, or choose to create a new one."})
    locked = _lock(appointment)
    if locked.status != S.HOLD or locked.patient_id is not None:
        raise ValidationError({"patient": "This hold is already linked to a chart."})
    request = BookingRequest.objects.select_for_update().filter(appointment=locked).first()
    if request is None:
        raise ValidationError({"patient": "This hold has no online request to take details from."})
    if create_new:
        patient = patient_from_request(request, location=locked.location, by=by)
    before = snapshot(locked, APPOINTMENT_FIELDS)
    locked.patient = patient
    locked.save(update_fields=["patient", "updated_at"])
    request.patient = patient
    request.identity = IdentityOutcome.CREATED if create_new else IdentityOutcome.LINKED
    request.save(update_fields=["patient", "identity"])
    if not create_new:
        contact_offer_open(booking_request=request, patient=patient, by=by)  # typed a new email/phone: ask
    _audit(
        locked,
        by=by,
        verb="appointment.patient_linked",
        before=before,
        reason="new chart created from the request" if create_new else "linked to an existing chart",
    )
    for task in StaffTask.objects.filter(
        kind="scheduling.identity", status=TaskStatus.OPEN, context__appointment=locked.pk
    ):
        task_resolve(
            task=task, by=by, note="Identity confirmed: " + ("new chart" if create_new else f"chart #{patient.pk}")
        )
    return locked
