from django.db import models

from .patients import Patient


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Not sent"  # no address, or the patient asked for no messages


class Message(models.Model):
    """Every email or text we send a patient (or staff), whatever feature sent it.

    Written by `billing.notifications.services.notify`; a dedupe key makes "send once" hold when the
    job that asks for it runs twice.
    """

    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=254, blank=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="messages")
    template = models.CharField(max_length=100)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-created_at"], name="message_patient_time")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.template} ({self.get_status_display()})"
