"""Recall: a completed visit of a recall type sets when the next one is due, and a reminder sequence runs
off that date. Patients whose membership lapsed or is on hold are left out of the sequence and listed for
staff instead (membership is read through membership.selectors only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from billing.actors import Actor
from billing.clock import practice_today
from billing.notifications.services import notify
from billing.services.audit import audit_record, snapshot
from membership.selectors import LAPSED, ON_HOLD, STATUS_LABELS, membership_status_by_patient
from scheduling.links import absolute
from scheduling.models import UPCOMING_STATUSES, Appointment, Recall, RecallStatus
from scheduling.rules import add_months, parse_day_offsets
from scheduling.selectors.settings import scheduling_settings

from .messages import SENDER

log = logging.getLogger(__name__)
RECALL = Actor.system_component("scheduling.recall")
EXCLUDED_MEMBERSHIP = (LAPSED, ON_HOLD)
DEFAULT_INTERVAL_MONTHS = 6


def recall_set_from_visit(*, appointment: Appointment, by: Actor) -> Recall | None:
    """Close the patient's open recall of this type and open the next, due ``recall_interval_months`` after
    the visit's local date. Call inside the completing transaction."""
    t = appointment.appointment_type
    if not t.is_recall_type or appointment.patient_id is None:
        return None
    visit_day = appointment.start.astimezone(appointment.location.zone).date()
    due = add_months(visit_day, t.recall_interval_months or DEFAULT_INTERVAL_MONTHS)
    for old in Recall.objects.select_for_update().filter(
        patient_id=appointment.patient_id, appointment_type=t, status=RecallStatus.DUE
    ):
        before = snapshot(old)
        old.status = RecallStatus.DONE
        old.save(update_fields=["status"])
        audit_record(
            actor=by, verb="recall.done", target=old, before=before, after=snapshot(old), patient=appointment.patient
        )
    recall = Recall.objects.create(
        patient_id=appointment.patient_id,
        appointment_type=t,
        location=appointment.location,
        due_date=due,
        source_appointment=appointment,
    )
    audit_record(
        actor=by,
        verb="recall.set",
        target=recall,
        after=snapshot(recall),
        patient=appointment.patient,
        location=appointment.location,
        reason=f"completed visit #{appointment.pk}",
    )
    return recall


@dataclass
class RecallRun:
    sent: int = 0
    excluded: int = 0
    skipped_booked: int = 0
    excluded_ids: list[int] = field(default_factory=list)


def recall_run(*, today: date | None = None) -> RecallRun:
    """Send each open recall the reminders whose day has come (settings.recall_reminder_days, relative to
    the due date), each step once: the step is claimed with a conditional UPDATE on ``reminders_sent``.
    Patients with an upcoming visit of the type get nothing; lapsed or on-hold members are marked excluded
    (listed for staff on the recall page) instead of being written to. Reads in a fixed number of queries;
    each reminder sent costs a fixed few more."""
    settings = scheduling_settings()
    offsets = parse_day_offsets(settings.recall_reminder_days)
    if not offsets:
        return RecallRun()
    today = today or practice_today()
    result = RecallRun()
    # A recall is "ready" if the next unsent step's day has come; find candidates whose first step is due.
    recalls = list(
        Recall.objects.filter(
            status=RecallStatus.DUE, due_date__lte=today - timedelta(days=offsets[0]), reminders_sent__lt=len(offsets)
        )
        .select_related("patient", "appointment_type", "location")
        .order_by("due_date", "id")[:2000]
    )
    if not recalls:
        return result
    patient_ids = {r.patient_id for r in recalls}
    statuses = membership_status_by_patient(patient_ids)
    booked = set(
        Appointment.objects.filter(
            patient_id__in=patient_ids, status__in=UPCOMING_STATUSES, start__gt=timezone.now()
        ).values_list("patient_id", "appointment_type_id")
    )
    for recall in recalls:
        step = recall.reminders_sent
        if recall.due_date + timedelta(days=offsets[step]) > today:
            continue
        status = statuses.get(recall.patient_id)
        if status in EXCLUDED_MEMBERSHIP:
            reason = f"membership {STATUS_LABELS[status]}"
            if recall.excluded_reason != reason:
                Recall.objects.filter(pk=recall.pk).update(excluded_reason=reason)
            result.excluded += 1
            result.excluded_ids.append(recall.pk)
            continue
        if recall.excluded_reason:
            Recall.objects.filter(pk=recall.pk).update(excluded_reason="")
        if (recall.patient_id, recall.appointment_type_id) in booked:
            result.skipped_booked += 1
            continue
        with transaction.atomic():
            claimed = Recall.objects.filter(pk=recall.pk, reminders_sent=step, status=RecallStatus.DUE).update(
                reminders_sent=F("reminders_sent") + 1, last_reminded_at=timezone.now()
            )
            if claimed != 1:
                continue
            _send(recall, step=step)
            result.sent += 1
    if result.sent or result.excluded:
        log.info("recall run: sent=%s excluded=%s", result.sent, result.excluded)
    return result


def _send(recall: Recall, *, step: int) -> None:
    patient = recall.patient
    link = ""
    if recall.location is not None:
        link = absolute(reverse("booking:page", args=[recall.location.slug])) + f"?type={recall.appointment_type_id}"
    notify(
        template="scheduling/recall",
        context={
            "first_name": patient.preferred_name or patient.first_name,
            "service": recall.appointment_type.name,
            "due": f"{recall.due_date:%B} {recall.due_date.day}, {recall.due_date.year}",
            "overdue": recall.due_date < practice_today(),
            "book_url": link,
        },
        by=SENDER,
        patient=patient,
        dedupe_key=f"sched:recall:{recall.pk}:{step}",
    )
