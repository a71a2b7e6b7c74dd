"""The practice's calendar rules: who works where and when, rooms, kinds of visit, blocked time, and the
settings every location shares (one set of rules held centrally, so no location improvises)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from billing.models import Location


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Provider(models.Model):
    """A dentist or hygienist who sees patients. Works at one or more locations (see WorkingHours)."""

    class Kind(models.TextChoices):
        DENTIST = "dentist", "Dentist"
        HYGIENIST = "hygienist", "Hygienist"
        OTHER = "other", "Other"

    name = models.CharField(max_length=120, help_text="As patients see it, e.g. “Dr. Maya Lee”.")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DENTIST)
    color = models.CharField(max_length=7, default="#0f6e6e", help_text="Column colour in the day view (#rrggbb).")
    sort_order = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "name", "id"]

    def __str__(self) -> str:
        return self.name


class WorkingHours(models.Model):
    """One stretch of a provider's week at one location, in that location's wall-clock time.

    Several rows per day split a day (e.g. 8–12 and 13–17 leaves lunch free). ``valid_from``/``valid_until``
    let a new rota start on a date without editing history."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="working_hours")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "working hours"
        ordering = ["provider", "location", "weekday", "start_time"]
        indexes = [models.Index(fields=["location", "weekday"], name="hours_location_day")]
        constraints = [
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="hours_end_after_start"),
        ]

    def __str__(self) -> str:
        day = self.get_weekday_display()
        return f"{self.provider} @ {self.location}: {day} {self.start_time:%H:%M}–{self.end_time:%H:%M}"


class TimeOff(models.Model):
    """A provider away (holiday, course, sick day), at every location."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "time off"
        ordering = ["start"]
        indexes = [models.Index(fields=["provider", "start", "end"], name="timeoff_provider_range")]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="timeoff_end_after_start")]

    def __str__(self) -> str:
        return f"{self.provider} off {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M}"


class Operatory(models.Model):
    """A treatment room (chair) at a location."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="operatories")
    name = models.CharField(max_length=60)
    sort_order = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "operatories"
        ordering = ["location", "sort_order", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["location", "name"], name="operatory_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.location})"


class AppointmentType(models.Model):
    """A kind of visit, the same rules at every location. ``recall_interval_months`` set makes it a recall
    type: completing one sets the patient's next recall due date."""

    name = models.CharField(max_length=100, unique=True)
    public_description = models.CharField(max_length=300, blank=True, help_text="Shown on the booking page.")
    duration_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(5), MaxValueValidator(600)])
    buffer_before_minutes = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(120)])
    buffer_after_minutes = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(120)])
    online_bookable = models.BooleanField(default=False, help_text="Offered on the public booking page and API.")
    new_patients_allowed = models.BooleanField(
        default=True, help_text="Online requests from people who aren't patients yet are accepted."
    )
    min_notice_minutes = models.PositiveIntegerField(
        default=120, help_text="How soon a patient may book online: nothing starting sooner is offered."
    )
    max_days_ahead = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(366)], help_text="How far ahead online."
    )
    allowed_providers = models.ManyToManyField(
        Provider, blank=True, related_name="appointment_types", help_text="None chosen: every provider."
    )
    allowed_operatories = models.ManyToManyField(
        Operatory, blank=True, related_name="appointment_types", help_text="None chosen: every operatory."
    )
    recall_interval_months = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(36)],
        help_text="Set (usually 6) to make this a recall type.",
    )
    code = models.CharField(max_length=16, blank=True, help_text="CDT code, for reference.")
    sort_order = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_recall_type(self) -> bool:
        return self.recall_interval_months is not None


class Block(models.Model):
    """Time nobody can be booked into: lunch, a meeting, a closure. Scoped to one provider, one operatory, or
    (both empty) the whole location. ``repeat`` repeats the block's local wall-clock times on later days."""

    class Kind(models.TextChoices):
        LUNCH = "lunch", "Lunch"
        MEETING = "meeting", "Meeting"
        CLOSURE = "closure", "Closure"
        OTHER = "other", "Other"

    class Repeat(models.TextChoices):
        NONE = "none", "Once"
        WEEKDAYS = "weekdays", "Every weekday (Mon–Fri)"
        WEEKLY = "weekly", "Every week"

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="blocks")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, null=True, blank=True, related_name="blocks")
    operatory = models.ForeignKey(Operatory, on_delete=models.CASCADE, null=True, blank=True, related_name="blocks")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    title = models.CharField(max_length=120, blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    repeat = models.CharField(max_length=10, choices=Repeat.choices, default=Repeat.NONE)
    repeat_until = models.DateField(null=True, blank=True, help_text="Last day of a repeating block (empty: no end).")

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["location", "start"], name="block_location_start")]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="block_end_after_start")]

    def __str__(self) -> str:
        return self.title or self.get_kind_display()

    def clean(self) -> None:
        if self.start and self.end and self.repeat != self.Repeat.NONE and (self.end - self.start).days >= 1:
            raise ValidationError({"end": "A repeating block must be shorter than a day."})


def validate_cadence(value: str) -> None:
    from scheduling.rules import parse_cadence

    parse_cadence(value)


def validate_day_offsets(value: str) -> None:
    from scheduling.rules import parse_day_offsets

    parse_day_offsets(value)


class SchedulingSettings(models.Model):
    """Practice-wide scheduling settings (one row, created by a migration; managers edit it in admin)."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    public_booking_enabled = models.BooleanField(default=True)
    slot_step_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(60)], help_text="Offered start times step."
    )
    hold_confirm_minutes = models.PositiveIntegerField(
        default=24 * 60,
        validators=[MinValueValidator(5)],
        help_text="Staff should confirm or reject an online hold within this many minutes; after that the hold "
        "stays on the calendar and a task is raised.",
    )
    reminder_cadence = models.CharField(
        max_length=200,
        default="email:7d, sms:2d, sms:2h",
        validators=[validate_cadence],
        help_text="Channel and time before the visit, comma-separated: email:7d, sms:2d, sms:2h (d, h or m).",
    )
    recall_reminder_days = models.CharField(
        max_length=100,
        default="-30, 0, 30",
        validators=[validate_day_offsets],
        help_text="Recall reminders, in days relative to the due date (negative: before it).",
    )
    asap_offer_limit = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(50)], help_text="ASAP patients told per opening."
    )
    manage_link_days = models.PositiveSmallIntegerField(
        default=120, validators=[MinValueValidator(1)], help_text="How long a patient's manage link works."
    )
    asap_link_hours = models.PositiveSmallIntegerField(default=24, validators=[MinValueValidator(1)])
    report_hour = models.PositiveSmallIntegerField(
        default=18,
        validators=[MaxValueValidator(23)],
        help_text="Local hour after which each location's daily reconciliation report is emailed.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "scheduling settings"
        verbose_name_plural = "scheduling settings"
        constraints = [models.CheckConstraint(condition=Q(singleton=True), name="scheduling_settings_singleton")]

    def __str__(self) -> str:
        return "Scheduling settings"
