from django.conf import settings
from django.db import models

from .patients import Patient
from .practice import Location


class Role(models.TextChoices):
    FRONT_DESK = "front_desk", "Front desk"
    MANAGER = "manager", "Manager"


class TaskPriority(models.IntegerChoices):
    LOW = 10, "Low"
    NORMAL = 20, "Normal"
    HIGH = 30, "High"
    URGENT = 40, "Urgent"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class StaffTask(models.Model):
    """One exception a person must look at: the front desk's (or the manager's) work queue.

    Automated code opens tasks through `billing.services.staff_tasks.task_open`, keyed by a dedupe key
    so a job that runs twice still opens one task. Kinds are registered in `billing.registry`.
    """

    kind = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="tasks")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="tasks")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.FRONT_DESK)
    priority = models.PositiveSmallIntegerField(choices=TaskPriority.choices, default=TaskPriority.NORMAL)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    due_at = models.DateTimeField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, help_text="Who or what opened it.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-priority", "due_at", "created_at", "id"]
        indexes = [
            models.Index(fields=["status", "role", "kind"], name="task_queue"),
            models.Index(fields=["status", "location"], name="task_location"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", resolved_at__isnull=True)
                | models.Q(status="resolved", resolved_at__isnull=False),
                name="task_resolved_has_time",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == TaskStatus.OPEN
