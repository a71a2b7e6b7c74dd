from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from .base import AppendOnlyModel
from .patients import Patient
from .practice import Location


class AuditEvent(AppendOnlyModel):
    """Who or what changed money, membership, financing or schedule state, when, why, and how.

    Written only by `billing.services.audit.audit_record`; append-only like the ledger.
    """

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_system = models.CharField(max_length=64, blank=True, help_text="The component, for automated actions.")
    actor_label = models.CharField(max_length=150)
    verb = models.CharField(max_length=64, db_index=True)
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-occurred_at"], name="audit_patient_time"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_label} {self.verb} {self.target_repr}"

    @property
    def is_automated(self) -> bool:
        return not self.actor_user_id
