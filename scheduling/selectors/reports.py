"""The daily reconciliation: every online booking of a location's day with its outcome, and every open
exception. One code path for the emailed report, the console page and the Today panel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Q

from billing.models import Location, StaffTask, TaskStatus
from scheduling.models import Appointment, AppointmentStatus, BookingOutcome, BookingRequest, Recall, RecallStatus

from .availability import day_bounds

SCHEDULING_TASK_PREFIX = "scheduling."


@dataclass
class Reconciliation:
    location: Location
    day: date
    requests: list[BookingRequest] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    exceptions: list[StaffTask] = field(default_factory=list)
    holds_waiting: int = 0
    holds_overdue: int = 0
    recall_excluded: int = 0

    @property
    def outcome_rows(self) -> list[dict]:
        rows = []
        for r in self.requests:
            appt = r.appointment
            rows.append(
                {
                    "request": r,
                    "received": r.created_at.astimezone(self.location.zone),
                    "slot": r.requested_start.astimezone(self.location.zone),
                    "outcome": r.get_outcome_display(),
                    "identity": r.get_identity_display() if r.identity else "",
                    "status": appt.get_status_display() if appt else "",
                    "appointment_id": appt.pk if appt else None,
                }
            )
        return rows


def reconciliation(*, location: Location, day: date, limit: int = 200) -> Reconciliation:
    """Five queries, whatever the day held."""
    start, end = day_bounds(day, location.zone)
    requests = list(
        BookingRequest.objects.filter(location=location, created_at__gte=start, created_at__lt=end)
        .select_related("appointment", "appointment_type", "provider")
        .order_by("created_at", "id")[:limit]
    )
    counts = dict(
        BookingRequest.objects.filter(location=location, created_at__gte=start, created_at__lt=end)
        .values_list("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    exceptions = list(
        StaffTask.objects.filter(
            kind__startswith=SCHEDULING_TASK_PREFIX, status=TaskStatus.OPEN, location=location
        ).order_by("-priority", "created_at", "id")[:limit]
    )
    holds = Appointment.objects.filter(location=location, status=AppointmentStatus.HOLD).aggregate(
        waiting=Count("id"), overdue=Count("id", filter=Q(hold_flagged_at__isnull=False))
    )
    excluded = Recall.objects.filter(location=location, status=RecallStatus.DUE).exclude(excluded_reason="").count()
    return Reconciliation(
        location=location,
        day=day,
        requests=requests,
        counts={k: counts.get(k, 0) for k in BookingOutcome.values},
        exceptions=exceptions,
        holds_waiting=holds["waiting"],
        holds_overdue=holds["overdue"],
        recall_excluded=excluded,
    )


def booking_exceptions_summary(*, day: date) -> dict:
    """The Today panel across all locations: today's online requests by outcome, open booking exceptions by
    kind, holds waiting (and overdue), recalls left out. Four queries."""
    from billing.clock import practice_zone
    from billing.registry import task_kind_label

    start, end = day_bounds(day, practice_zone())
    outcomes = dict(
        BookingRequest.objects.filter(created_at__gte=start, created_at__lt=end)
        .values_list("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    tasks = (
        StaffTask.objects.filter(kind__startswith=SCHEDULING_TASK_PREFIX, status=TaskStatus.OPEN)
        .values("kind")
        .annotate(n=Count("id"))
        .order_by("-n", "kind")
    )
    holds = Appointment.objects.filter(status=AppointmentStatus.HOLD).aggregate(
        waiting=Count("id"), overdue=Count("id", filter=Q(hold_flagged_at__isnull=False))
    )
    excluded = Recall.objects.filter(status=RecallStatus.DUE).exclude(excluded_reason="").count()
    return {
        "day": day,
        "outcomes": [(BookingOutcome(k).label, outcomes.get(k, 0)) for k in BookingOutcome.values],
        "requests_total": sum(outcomes.values()),
        "tasks": [{"kind": t["kind"], "label": task_kind_label(t["kind"]), "n": t["n"]} for t in tasks],
        "holds_waiting": holds["waiting"],
        "holds_overdue": holds["overdue"],
        "recall_excluded": excluded,
    }
