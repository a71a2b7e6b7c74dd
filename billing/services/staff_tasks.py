"""The front-desk exception queue: opening tasks (usually automated) and resolving them (staff)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.actors import Actor
from billing.models import Location, Patient, Role, StaffTask, TaskPriority, TaskStatus
from billing.services.audit import audit_record, snapshot


def task_open(
    *,
    kind: str,
    title: str,
    by: Actor,
    patient: Patient | None = None,
    location: Location | None = None,
    role: str = Role.FRONT_DESK,
    priority: int = TaskPriority.NORMAL,
    due_at: datetime | None = None,
    detail: str = "",
    context: dict | None = None,
    dedupe_key: str | None = None,
) -> tuple[StaffTask, bool]:
    """Open a task, at most once per dedupe key: returns (task, created). A job that runs twice, or two
    workers racing, still open one task; the second gets the first's row."""
    if dedupe_key:
        existing = StaffTask.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            task = StaffTask.objects.create(
                kind=kind,
                title=title[:200],
                detail=detail,
                patient=patient,
                location=location or (patient.home_location if patient else None),
                role=role,
                priority=priority,
                due_at=due_at,
                context=context or {},
                dedupe_key=dedupe_key or None,
                created_by=by.label,
            )
            audit_record(actor=by, verb="task.opened", target=task, after=snapshot(task), patient=patient)
    except IntegrityError:
        if not dedupe_key:
            raise
        return StaffTask.objects.get(dedupe_key=dedupe_key), False
    return task, True


@transaction.atomic
def task_resolve(*, task: StaffTask, by: Actor, note: str) -> StaffTask:
    """Close a task with a note saying what was done. A task is resolved once; the second attempt is
    refused with who resolved it."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say what you did (a short note is enough)."})
    locked = StaffTask.objects.select_for_update().get(pk=task.pk)
    if locked.status != TaskStatus.OPEN:
        who = locked.resolved_by.get_username() if locked.resolved_by_id else "the system"
        raise ValidationError({"note": f"Already resolved by {who}."})
    before = snapshot(locked, ["status", "resolved_at", "resolution_note"])
    locked.status = TaskStatus.RESOLVED
    locked.resolved_at = timezone.now()
    locked.resolved_by = by.user
    locked.resolution_note = note
    locked.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])
    audit_record(
        actor=by,
        verb="task.resolved",
        target=locked,
        before=before,
        after=snapshot(locked, ["status", "resolved_at", "resolution_note"]),
        patient=locked.patient,
        reason=note,
    )
    return locked
