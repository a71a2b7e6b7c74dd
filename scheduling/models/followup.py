"""Following up with patients: the ASAP list (earlier openings) and recall (the next cleaning is due)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing.models import Location, Message, Patient

from .appointments import Appointment
from .calendar import AppointmentType, Provider


class AsapStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for an opening"
    BOOKED = "booked", "Took an opening"
    WITHDRAWN = "withdrawn", "Withdrawn"


class AsapRequest(models.Model):
    """A patient who would take an earlier opening of this type at this location. With ``appointment`` set,
    accepting an offer moves that appointment earlier; without, it books a new hold."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="asap_requests")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="asap_requests"
    )
    status = models.CharField(max_length=10, choices=AsapStatus.choices, default=AsapStatus.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["location", "status", "created_at"], name="asap_location_waiting")]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "location", "appointment_type"],
                condition=Q(status="waiting"),
                name="asap_one_waiting_per_patient_type",
            )
        ]

    def __str__(self) -> str:
        return f"ASAP #{self.pk} {self.appointment_type} ({self.get_status_display()})"


class OfferStatus(models.TextChoices):
    OFFERED = "offered", "Offered"
    ACCEPTED = "accepted", "Accepted"
    GONE = "gone", "Taken by someone else"


class AsapOffer(models.Model):
    """One opening offered to one waiting patient. Every offer of one opening shares ``opening_key``; the
    first accept books it through the conflict-proof hold path and the rest are told it's gone."""

    request = models.ForeignKey(AsapRequest, on_delete=models.CASCADE, related_name="offers")
    opening_key = models.CharField(max_length=100, db_index=True)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.OFFERED)
    appointment = models.ForeignKey(Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "opening_key"], name="asap_offer_once_per_opening")]

    def __str__(self) -> str:
        return f"ASAP offer #{self.pk} ({self.get_status_display()})"


class RecallStatus(models.TextChoices):
    DUE = "due", "Due"
    DONE = "done", "Done (a later visit reset it)"
    CANCELLED = "cancelled", "Cancelled by staff"


class Recall(models.Model):
    """When a patient's next visit of a recall type is due. A completed visit of the type closes the open
    recall and opens the next; the reminder sequence runs off ``due_date`` (settings.recall_reminder_days).
    ``excluded_reason`` marks a recall the job left out (membership lapsed or on hold) for staff to see."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="recalls")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    due_date = models.DateField(db_index=True)
    status = models.CharField(max_length=10, choices=RecallStatus.choices, default=RecallStatus.DUE)
    source_appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    excluded_reason = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "appointment_type"], condition=Q(status="due"), name="recall_one_open_per_type"
            )
        ]

    def __str__(self) -> str:
        return f"Recall {self.appointment_type} due {self.due_date}"
