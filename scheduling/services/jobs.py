"""The scheduled work: hold lifetime and appointment reminders.

Both may run twice at once (two workers, a retry, an operator running the command while the schedule
fires). Each unit of work is claimed with one conditional UPDATE and acted on only by whoever changed
exactly one row, so a task is raised once and a reminder is sent once, with no lock held across sending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.actors import Actor
from billing.jobs import enqueue
from billing.models import Channel, ContactChannel, TaskPriority
from billing.services.staff_tasks import task_open
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    ReminderNotice,
    ReminderStatus,
)
from scheduling.rules import parse_cadence
from scheduling.selectors.settings import scheduling_settings

from .messages import send_to_appointment
from .transitions import hold_expire

log = logging.getLogger(__name__)
JOBS = Actor.system_component("scheduling.jobs")

# A reminder whose moment passed while the job wasn't running is still sent if it is at most this late.
REMINDER_GRACE = timedelta(hours=6)


@dataclass
class HoldSweep:
    flagged: int = 0
    expired: int = 0


def holds_sweep(*, now: datetime | None = None) -> HoldSweep:
    """Holds staff left alone past the confirm window get a task (once each) and stay on the calendar;
    holds whose visit time came unconfirmed become "hold expired" (and stop blocking) with a task."""
    now = now or timezone.now()
    settings = scheduling_settings()
    cutoff = now - timedelta(minutes=settings.hold_confirm_minutes)
    result = HoldSweep()
    overdue = list(
        Appointment.objects.filter(
            status=AppointmentStatus.HOLD, held_at__lte=cutoff, hold_flagged_at__isnull=True, start__gt=now
        )
        .select_related("location", "patient")
        .order_by("held_at")[:500]
    )
    for appt in overdue:
        with transaction.atomic():
            claimed = Appointment.objects.filter(
                pk=appt.pk, status=AppointmentStatus.HOLD, hold_flagged_at__isnull=True
            ).update(hold_flagged_at=now)
            if claimed != 1:
                continue
            local = appt.start.astimezone(appt.location.zone)
            task_open(
                kind="scheduling.hold_overdue",
                title=f"Online hold waiting over {settings.hold_confirm_minutes // 60 or settings.hold_confirm_minutes}"
                f"{'h' if settings.hold_confirm_minutes >= 60 else 'min'}: confirm or reject ({local:%a %b %d %H:%M})",
                by=JOBS,
                patient=appt.patient,
                location=appt.location,
                priority=TaskPriority.HIGH,
                due_at=appt.start,
                context={"appointment": appt.pk},
                dedupe_key=f"sched:hold-overdue:{appt.pk}:{int(appt.held_at.timestamp())}",
            )
            result.flagged += 1
    for appt in Appointment.objects.filter(status=AppointmentStatus.HOLD, start__lte=now).order_by("start")[:500]:
        if hold_expire(appointment=appt, by=JOBS, now=now) is not None:
            result.expired += 1
    if result.flagged or result.expired:
        log.info("holds sweep: flagged=%s expired=%s", result.flagged, result.expired)
    return result


@dataclass
class ReminderScan:
    queued: int = 0


def reminders_scan(*, now: datetime | None = None) -> ReminderScan:
    """Find every (confirmed appointment, reminder rule) whose moment has come and write a pending notice
    for it; queue one send job per new notice. A fixed number of queries per rule, however many
    appointments: the notices are inserted in bulk and the unique (appointment, rule, start) makes a
    second scan a no-op. Rules whose moment had passed before the appointment was confirmed are skipped
    (the confirmation said it all)."""
    now = now or timezone.now()
    rules = parse_cadence(scheduling_settings().reminder_cadence)
    queued = 0
    for rule in rules:
        # due_at = start - lead time, and due_at in (now - grace, now]
        candidates = Appointment.objects.filter(
            status=AppointmentStatus.CONFIRMED,
            start__gt=max(now, now + rule.offset - REMINDER_GRACE),
            start__lte=now + rule.offset,
            confirmed_at__lte=F("start") - rule.offset,
        )
        rows = list(candidates.values_list("id", "start"))
        if not rows:
            continue
        notices = [
            ReminderNotice(
                appointment_id=pk, rule=rule.key, channel=rule.channel, for_start=start, due_at=start - rule.offset
            )
            for pk, start in rows
        ]
        with transaction.atomic():
            ReminderNotice.objects.bulk_create(notices, ignore_conflicts=True)
            fresh = list(
                ReminderNotice.objects.filter(
                    rule=rule.key,
                    status=ReminderStatus.PENDING,
                    claimed_at__isnull=True,
                    appointment_id__in=[pk for pk, _ in rows],
                ).values_list("id", flat=True)
            )
            for notice_id in fresh:
                enqueue("scheduling.tasks.send_reminder", notice_id)
        queued += len(fresh)
    return ReminderScan(queued=queued)


def reminder_send(*, notice_id: int, now: datetime | None = None) -> str:
    """Send one reminder, once: claim the notice with a conditional UPDATE (pending, unclaimed, and its
    appointment still confirmed at the same start), then send. A cancelled or moved appointment gets
    nothing; the notice is marked skipped."""
    now = now or timezone.now()
    claimed = ReminderNotice.objects.filter(
        pk=notice_id,
        status=ReminderStatus.PENDING,
        claimed_at__isnull=True,
        appointment__status=AppointmentStatus.CONFIRMED,
        appointment__start=F("for_start"),
        appointment__start__gt=now,
    ).update(claimed_at=now)
    if claimed != 1:
        ReminderNotice.objects.filter(pk=notice_id, status=ReminderStatus.PENDING, claimed_at__isnull=True).update(
            status=ReminderStatus.SKIPPED, claimed_at=now
        )
        return "skipped"
    notice = ReminderNotice.objects.select_related(
        "appointment__location",
        "appointment__provider",
        "appointment__appointment_type",
        "appointment__patient",
        "appointment__booking_request",
    ).get(pk=notice_id)
    appt = notice.appointment
    patient = appt.patient
    channel = Channel.EMAIL
    if notice.channel == Channel.SMS and patient is not None and patient.preferred_channel == ContactChannel.SMS:
        channel = Channel.SMS
    message = send_to_appointment(
        appt,
        template="scheduling/reminder",
        dedupe_key=f"sched:reminder:{appt.pk}:{notice.rule}:{int(notice.for_start.timestamp())}",
        channel=channel,
    )
    ReminderNotice.objects.filter(pk=notice_id).update(status=ReminderStatus.SENT, message=message)
    return "sent"
