from django.db.models import Count, QuerySet

from billing.models import StaffTask, TaskStatus
from billing.registry import task_kind_label


def task_queue(
    *,
    status: str = TaskStatus.OPEN,
    role: str = "",
    kind: str = "",
    location_id: int | None = None,
    patient_id: int | None = None,
) -> QuerySet:
    qs = StaffTask.objects.select_related("patient", "location", "resolved_by")
    if status:
        qs = qs.filter(status=status)
    if role:
        qs = qs.filter(role=role)
    if kind:
        qs = qs.filter(kind=kind)
    if location_id:
        qs = qs.filter(location_id=location_id)
    if patient_id:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("-priority", "due_at", "created_at", "id")


def open_task_counts() -> list[dict]:
    """Open tasks per kind, with their readable label, most first."""
    rows = (
        StaffTask.objects.filter(status=TaskStatus.OPEN).values("kind").annotate(n=Count("id")).order_by("-n", "kind")
    )
    return [{"kind": r["kind"], "label": task_kind_label(r["kind"]), "n": r["n"]} for r in rows]


def open_task_kinds() -> list[str]:
    return list(StaffTask.objects.values_list("kind", flat=True).distinct().order_by("kind"))
