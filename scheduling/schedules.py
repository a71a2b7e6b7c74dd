"""The django-q2 schedules this app needs, created idempotently after every ``migrate``.

A schedule that already exists (found by name) is left as the operator last set it; only missing ones
are created. ``manage.py scheduling_jobs --ensure-schedules`` does the same by hand."""

from __future__ import annotations

SCHEDULES = [
    # name, function, schedule type, minutes (for MINUTES)
    ("scheduling: reminders", "scheduling.tasks.run_reminders", "I", 5),
    ("scheduling: hold lifetime", "scheduling.tasks.run_holds", "I", 15),
    ("scheduling: recall", "scheduling.tasks.run_recall", "H", None),
    ("scheduling: daily reconciliation", "scheduling.tasks.run_reconciliation", "H", None),
]


def ensure_schedules() -> int:
    """Create the missing schedules; returns how many were created."""
    from django_q.models import Schedule

    created = 0
    for name, func, kind, minutes in SCHEDULES:
        _, made = Schedule.objects.get_or_create(
            name=name,
            defaults={"func": func, "schedule_type": kind, "minutes": minutes, "repeats": -1},
        )
        created += made
    return created
