"""Appointments (with tentative holds), the online requests that made them, and the reminders sent."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import RangeOperators
from django.db import models
from django.db.models import F, Q

from billing.models import ContactChannel, Location, Message, Patient
from scheduling.db import PostgresExclusionConstraint, TsTzRange

from .calendar import AppointmentType, Operatory, Provider


class AppointmentStatus(models.TextChoices):
    HOLD = "hold", "Tentative hold"
    CONFIRMED = "confirmed", "Confirmed"
    CHECKED_IN = "checked_in", "Checked in"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"
    EXPIRED = "expired", "Hold expired"


# Statuses that occupy the chair and the provider. The exclusion constraints are partial on exactly these.
ACTIVE_STATUSES = (
    AppointmentStatus.HOLD,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
)
UPCOMING_STATUSES = (AppointmentStatus.HOLD, AppointmentStatus.CONFIRMED)


class AppointmentSource(models.TextChoices):
    ONLINE = "online", "Online"
    STAFF = "staff", "Staff"
    IMPORT = "import", "Import"


class CancelKind(models.TextChoices):
    PATIENT = "patient", "By the patient"
    PRACTICE = "practice", "By the practice"
    REJECTED = "rejected", "Hold rejected"


class Appointment(models.Model):
    """A visit on the calendar. ``start``/``end`` are the visit; ``occupied_start``/``occupied_end`` add the
    type's buffers, and it is the occupied range that may not overlap another active appointment of the
    same provider or the same operatory (see scheduling/db.py). Times are stored in UTC.

    Changed only by scheduling.services (one function per transition, under a row lock, audited)."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="appointments")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="appointments")
    operatory = models.ForeignKey(Operatory, on_delete=models.PROTECT, related_name="appointments")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        help_text="Empty while staff confirm who an online request is from.",
    )
    status = models.CharField(max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.HOLD)
    source = models.CharField(max_length=8, choices=AppointmentSource.choices)
    start = models.DateTimeField()
    end = models.DateTimeField()
    occupied_start = models.DateTimeField()
    occupied_end = models.DateTimeField()
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    patient_note = models.TextField(blank=True)
    staff_note = models.TextField(blank=True)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    held_at = models.DateTimeField(
        null=True, blank=True, help_text="When it last became a tentative hold (the confirm window runs from here)."
    )
    hold_flagged_at = models.DateTimeField(
        null=True, blank=True, help_text="When the hold outlived the confirm window and a task was raised."
    )
    checked_in_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_kind = models.CharField(max_length=10, choices=CancelKind.choices, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    reschedule_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["location", "start"], name="appt_location_start"),
            models.Index(fields=["provider", "occupied_start"], name="appt_provider_start"),
            models.Index(fields=["operatory", "occupied_start"], name="appt_operatory_start"),
            models.Index(fields=["status", "start"], name="appt_status_start"),
            models.Index(fields=["patient", "start"], name="appt_patient_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="appt_end_after_start"),
            models.CheckConstraint(
                condition=Q(occupied_start__lte=F("start"), occupied_end__gte=F("end")),
                name="appt_occupied_covers_visit",
            ),
            models.CheckConstraint(
                condition=Q(patient__isnull=False)
                | Q(status__in=[AppointmentStatus.HOLD, AppointmentStatus.CANCELLED]),
                name="appt_only_holds_lack_patient",
            ),
            PostgresExclusionConstraint(
                name="appt_no_provider_overlap",
                expressions=[
                    (TsTzRange("occupied_start", "occupied_end"), RangeOperators.OVERLAPS),
                    ("provider", RangeOperators.EQUAL),
                ],
                condition=Q(status__in=ACTIVE_STATUSES),
                violation_error_message="That provider already has an appointment at that time.",
            ),
            PostgresExclusionConstraint(
                name="appt_no_operatory_overlap",
                expressions=[
                    (TsTzRange("occupied_start", "occupied_end"), RangeOperators.OVERLAPS),
                    ("operatory", RangeOperators.EQUAL),
                ],
                condition=Q(status__in=ACTIVE_STATUSES),
                violation_error_message="That operatory is already in use at that time.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appointment_type} #{self.pk} {self.start:%Y-%m-%d %H:%M}Z ({self.get_status_display()})"

    @property
    def is_hold(self) -> bool:
        return self.status == AppointmentStatus.HOLD

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_upcoming(self) -> bool:
        return self.status in UPCOMING_STATUSES


EXCLUSION_CONSTRAINTS = ("appt_no_provider_overlap", "appt_no_operatory_overlap")


class BookingOutcome(models.TextChoices):
    HELD = "held", "Held"
    TAKEN = "taken", "Time was taken"
    REFUSED = "refused", "Refused"


class IdentityOutcome(models.TextChoices):
    LINKED = "linked", "Matched an existing patient"
    CREATED = "created", "New patient created"
    AMBIGUOUS = "ambiguous", "Staff to confirm identity"


class BookingRequest(models.Model):
    """One online booking submission as the person typed it, and what came of it. The daily
    reconciliation report lists these; staff resolve an ambiguous identity from here."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="booking_requests")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="+")
    requested_start = models.DateTimeField()
    idempotency_key = models.CharField(max_length=100, unique=True)
    channel = models.CharField(max_length=8, default="web", help_text="web (booking page) or api.")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    email = models.EmailField()
    phone = models.CharField(max_length=20)
    preferred_channel = models.CharField(max_length=8, choices=ContactChannel.choices, default=ContactChannel.EMAIL)
    note = models.TextField(blank=True)
    outcome = models.CharField(max_length=8, choices=BookingOutcome.choices)
    outcome_detail = models.CharField(max_length=300, blank=True)
    identity = models.CharField(max_length=10, choices=IdentityOutcome.choices, blank=True)
    candidate_patient_ids = models.JSONField(default=list, blank=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="booking_request"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["location", "created_at"], name="bookreq_location_time")]

    def __str__(self) -> str:
        return f"Booking request #{self.pk} ({self.get_outcome_display()})"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"


class ReminderNotice(models.Model):
    """One reminder due for one appointment at one start time. Unique per (appointment, rule, start): a
    rescheduled visit gets fresh reminders, and a scan that runs twice finds the row already there. The
    sender claims a notice with one conditional UPDATE before it sends, so each goes out once."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders")
    rule = models.CharField(max_length=20)
    channel = models.CharField(max_length=8)
    for_start = models.DateTimeField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=ReminderStatus.choices, default=ReminderStatus.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "rule", "for_start"], name="reminder_once_per_start")
        ]

    def __str__(self) -> str:
        return f"{self.rule} reminder for appointment #{self.appointment_id}"


class ReconciliationReport(models.Model):
    """A location's daily report of online bookings and exceptions; one row per location and day, so the
    hourly job that sends it claims the day once."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    summary = models.JSONField(default=dict)
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "location"]
        constraints = [models.UniqueConstraint(fields=["location", "day"], name="recon_once_per_day")]

    def __str__(self) -> str:
        return f"Reconciliation {self.location} {self.day}"
