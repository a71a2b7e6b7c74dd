"""Reads behind the console: the day view, holds to confirm, appointment lists, a patient's visits, recall.
Each runs a fixed number of queries whatever the number of rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from billing.models import Location, Patient, StaffTask, TaskStatus
from membership.selectors import ON_HOLD, PAST_DUE, STATUS_LABELS, membership_status_by_patient
from scheduling.models import (
    ACTIVE_STATUSES,
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    AsapRequest,
    AsapStatus,
    Block,
    Provider,
    Recall,
    RecallStatus,
    TimeOff,
    WorkingHours,
)

from .availability import _block_occurrences, day_bounds, local_to_utc
from .settings import scheduling_settings

BADGE_STATUSES = (PAST_DUE, ON_HOLD)  # the membership states the front desk must see on the calendar


def appointments_qs() -> QuerySet:
    return Appointment.objects.select_related(
        "location", "provider", "operatory", "appointment_type", "patient", "booking_request"
    )


def membership_badges(patient_ids) -> dict[int, str]:
    """{patient id: label} for members who are past due or on hold (read through membership.selectors)."""
    statuses = membership_status_by_patient(patient_ids)
    return {pid: STATUS_LABELS[s] for pid, s in statuses.items() if s in BADGE_STATUSES}


@dataclass
class Box:
    top: float  # percent of the grid height
    height: float
    label: str
    start: datetime
    end: datetime
    appointment: Appointment | None = None
    kind: str = ""
    badge: str = ""


@dataclass
class Column:
    provider: Provider
    boxes: list[Box] = field(default_factory=list)
    off: list[Box] = field(default_factory=list)  # outside working hours, time off, blocks


@dataclass
class DayView:
    location: Location
    day: date
    zone: ZoneInfo
    first_hour: int
    last_hour: int
    columns: list[Column]
    exceptions: list[StaffTask]
    holds: list[Appointment]

    @property
    def hours(self) -> list[int]:
        return list(range(self.first_hour, self.last_hour))

    @property
    def prev_day(self) -> date:
        return self.day - timedelta(days=1)

    @property
    def next_day(self) -> date:
        return self.day + timedelta(days=1)


def _minutes(local: datetime) -> int:
    return local.hour * 60 + local.minute


def day_view(*, location: Location, day: date, now: datetime | None = None) -> DayView:
    """Providers (those with hours here that day, or an appointment here that day) × time, in the location's
    zone. Seven queries however many providers and appointments."""
    zone = location.zone
    start, end = day_bounds(day, zone)
    hours = list(
        WorkingHours.objects.filter(location=location, weekday=day.weekday())
        .filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=day), Q(valid_until__isnull=True) | Q(valid_until__gte=day)
        )
        .select_related("provider")
    )
    appts = list(
        appointments_qs()
        .filter(location=location, start__lt=end, end__gt=start)
        .exclude(status=AppointmentStatus.CANCELLED)
        .order_by("start", "id")
    )
    providers: dict[int, Provider] = {}
    for h in hours:
        if h.provider.is_active:
            providers[h.provider_id] = h.provider
    for a in appts:
        providers.setdefault(a.provider_id, a.provider)
    blocks = list(
        Block.objects.filter(location=location, start__lt=end).filter(
            Q(repeat=Block.Repeat.NONE, end__gt=start)
            | (~Q(repeat=Block.Repeat.NONE) & (Q(repeat_until__isnull=True) | Q(repeat_until__gte=day)))
        )
    )
    time_off = list(TimeOff.objects.filter(provider_id__in=list(providers), start__lt=end, end__gt=start))
    badges = membership_badges({a.patient_id for a in appts if a.patient_id})

    # Grid bounds: working hours and appointments, rounded out to whole hours, at least 8:00-17:00.
    first, last = 8 * 60, 17 * 60
    for h in hours:
        first, last = (
            min(first, h.start_time.hour * 60 + h.start_time.minute),
            max(last, h.end_time.hour * 60 + h.end_time.minute),
        )
    for a in appts:
        ls, le = a.start.astimezone(zone), a.end.astimezone(zone)
        first = min(first, _minutes(ls) if ls.date() == day else 0)
        last = max(last, _minutes(le) if le.date() == day else 24 * 60)
    first_hour, last_hour = first // 60, min(24, -(-last // 60))
    grid_start, grid_len = first_hour * 60, (last_hour - first_hour) * 60

    def box(s: datetime, e: datetime, label: str, min_minutes: int = 0, **kw) -> Box | None:
        """Position in percent of the grid; None when nothing of it falls inside the grid."""
        ls, le = s.astimezone(zone), e.astimezone(zone)
        top = _minutes(ls) if ls.date() == day else 0
        bottom = _minutes(le) if le.date() == day else 24 * 60
        bottom = max(bottom, top + min_minutes)
        top, bottom = max(top, grid_start), min(bottom, grid_start + grid_len)
        if bottom <= top:
            return None
        return Box(
            top=(top - grid_start) * 100 / grid_len,
            height=(bottom - top) * 100 / grid_len,
            label=label,
            start=s,
            end=e,
            **kw,
        )

    columns = {
        pid: Column(provider=p) for pid, p in sorted(providers.items(), key=lambda kv: (kv[1].sort_order, kv[1].name))
    }
    for pid, col in columns.items():
        stretches = sorted((h.start_time, h.end_time) for h in hours if h.provider_id == pid)
        cursor = start
        for st, et in stretches:
            s_utc, e_utc = local_to_utc(day, st, zone), local_to_utc(day, et, zone)
            if s_utc > cursor:
                col.off.append(box(cursor, s_utc, "", kind="closed"))
            cursor = max(cursor, e_utc)
        if cursor < end:
            col.off.append(box(cursor, end, "", kind="closed"))
    for t in time_off:
        if t.provider_id in columns:
            columns[t.provider_id].off.append(
                box(max(t.start, start), min(t.end, end), t.reason or "Time off", kind="timeoff")
            )
    for b in blocks:
        for s, e in _block_occurrences(b, zone, day, day):
            if e <= start or s >= end:
                continue
            targets = [b.provider_id] if b.provider_id else list(columns)
            for pid in targets:
                if pid in columns:
                    columns[pid].off.append(box(s, e, str(b), kind="block"))
    for a in appts:
        who = a.patient.full_name if a.patient else _requester_label(a)
        columns[a.provider_id].boxes.append(
            box(a.start, a.end, who, min_minutes=10, appointment=a, kind=a.status, badge=badges.get(a.patient_id, ""))
        )
    for col in columns.values():
        col.off = [b for b in col.off if b is not None]
        col.boxes = [b for b in col.boxes if b is not None]
    exceptions = list(
        StaffTask.objects.filter(kind__startswith="scheduling.", status=TaskStatus.OPEN, location=location)
        .select_related("patient")
        .order_by("-priority", "created_at", "id")[:50]
    )
    return DayView(
        location=location,
        day=day,
        zone=zone,
        first_hour=first_hour,
        last_hour=last_hour,
        columns=list(columns.values()),
        exceptions=exceptions,
        holds=[a for a in appts if a.status == AppointmentStatus.HOLD],
    )


def _requester_label(appointment: Appointment) -> str:
    request = getattr(appointment, "booking_request", None)
    if request is None:
        return "Unknown requester"
    return f"{request.first_name} {request.last_name} (unconfirmed identity)"


def holds_to_confirm(*, location: Location | None = None, limit: int = 100) -> list[Appointment]:
    """Online holds waiting for staff, oldest first, each with ``window_ends``/``is_overdue`` set."""
    qs = appointments_qs().filter(status=AppointmentStatus.HOLD)
    if location is not None:
        qs = qs.filter(location=location)
    holds = list(qs.order_by("held_at", "id")[:limit])
    window = timedelta(minutes=scheduling_settings().hold_confirm_minutes)
    now = timezone.now()
    for h in holds:
        h.window_ends = (h.held_at or h.created_at) + window
        h.is_overdue = h.window_ends <= now
    return holds


def appointment_list(
    *,
    location: Location | None = None,
    day: date | None = None,
    status: str = "",
    provider_id: int | None = None,
    patient_id: int | None = None,
) -> QuerySet:
    qs = appointments_qs()
    if location is not None:
        qs = qs.filter(location=location)
        if day is not None:
            s, e = day_bounds(day, location.zone)
            qs = qs.filter(start__gte=s, start__lt=e)
    if status:
        qs = qs.filter(status=status)
    if provider_id:
        qs = qs.filter(provider_id=provider_id)
    if patient_id:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("start", "id")


def patient_overlapping_appointments(
    *, patient, start: datetime, end: datetime, exclude: Appointment | int | None = None
) -> list[Appointment]:
    """The patient's active appointments (live holds included) at any location whose visit overlaps
    [start, end), earliest first; ``exclude`` leaves out the appointment being moved. Buffers are the
    practice's set-up and clean-up, not the patient's time, so back-to-back visits don't clash. One query."""
    if patient is None:
        return []
    qs = appointments_qs().filter(patient=patient, status__in=ACTIVE_STATUSES, start__lt=end, end__gt=start)
    if exclude is not None:
        qs = qs.exclude(pk=getattr(exclude, "pk", exclude))
    return list(qs.order_by("start", "id"))


def usual_location_id(patient: Patient) -> int | None:
    """Where this patient is usually seen: their chart's home location, else where their latest visit was."""
    if patient.home_location_id:
        return patient.home_location_id
    return (
        Appointment.objects.filter(patient_id=patient.pk)
        .order_by("-start", "-id")
        .values_list("location_id", flat=True)
        .first()
    )


def patient_appointments(*, patient_id: int) -> dict:
    """The patient page's section: upcoming and recent visits, open recall, ASAP requests (3 queries)."""
    now = timezone.now()
    appts = list(appointments_qs().filter(patient_id=patient_id).order_by("-start", "-id")[:40])
    return {
        "upcoming": sorted(
            (a for a in appts if a.start >= now and a.status in UPCOMING_STATUSES), key=lambda a: a.start
        ),
        "recent": [a for a in appts if not (a.start >= now and a.status in UPCOMING_STATUSES)][:10],
        "recalls": list(
            Recall.objects.filter(patient_id=patient_id, status=RecallStatus.DUE).select_related("appointment_type")
        ),
        "asap": list(
            AsapRequest.objects.filter(patient_id=patient_id, status=AsapStatus.WAITING).select_related(
                "appointment_type", "location"
            )
        ),
    }


def recall_lists(*, location: Location | None = None, horizon_days: int = 60, limit: int = 200) -> dict:
    """Open recalls coming due, and the ones left out of reminders (membership) for staff to handle."""
    from billing.clock import practice_today

    qs = Recall.objects.filter(status=RecallStatus.DUE).select_related("patient", "appointment_type", "location")
    if location is not None:
        qs = qs.filter(location=location)
    today = practice_today()
    return {
        "due": list(
            qs.filter(excluded_reason="", due_date__lte=today + timedelta(days=horizon_days)).order_by(
                "due_date", "id"
            )[:limit]
        ),
        "excluded": list(qs.exclude(excluded_reason="").order_by("due_date", "id")[:limit]),
    }
