from django.db import models

from .practice import Location


class ContactChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"
    NONE = "none", "No messages"


class Household(models.Model):
    """Patients who share one bill. The guarantor (a member) is who pays and who Stripe knows."""

    name = models.CharField(max_length=150)
    guarantor = models.ForeignKey(
        "Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="guaranteed_households"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Patient(models.Model):
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="Stored in E.164 form, e.g. +15555550123.")
    preferred_channel = models.CharField(max_length=8, choices=ContactChannel.choices, default=ContactChannel.EMAIL)
    home_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="patients"
    )
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="members")
    external_id = models.CharField(
        max_length=64, blank=True, help_text="This patient's id in the practice-management system, if any."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name"]),
            models.Index(fields=["date_of_birth"]),
            models.Index(fields=["phone"]),
            models.Index(fields=["email"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=~models.Q(external_id=""), name="patient_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_guarantor(self) -> bool:
        return self.household.guarantor_id == self.pk
