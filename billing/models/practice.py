import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (use an IANA name like America/Chicago).")


class Practice(models.Model):
    """The one practice organisation this deployment serves (a single practice or a small group).

    Exactly one row exists (created by a migration); settings of later features live in their own
    one-to-one models so this table stays small.
    """

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    legal_name = models.CharField(max_length=200, help_text="Used in every message to patients.")
    display_name = models.CharField(
        max_length=200, blank=True, help_text="Short name for pages; defaults to the legal name."
    )
    time_zone = models.CharField(max_length=64, default="America/New_York", validators=[validate_time_zone])
    email = models.EmailField(blank=True, help_text="Reply-to address for patient messages.")
    phone = models.CharField(max_length=32, blank=True)
    website = models.URLField(blank=True)
    address = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(singleton=True), name="practice_is_singleton")]
        permissions = [
            ("use_console", "Can use the front-desk console and API"),
            ("manage_practice", "Can do manager actions: reversals, manual entries, settings, audit trail"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        from django.core.cache import cache

        from billing.selectors.practice import TIME_ZONE_CACHE_KEY

        cache.delete(TIME_ZONE_CACHE_KEY)

    @property
    def name(self) -> str:
        return self.display_name or self.legal_name


class Location(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="locations")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True, help_text="Used in public links, e.g. /book/<slug>/.")
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    manager_email = models.EmailField(blank=True, help_text="Receives this location's daily reports.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def address(self) -> str:
        parts = [
            self.address_line1,
            self.address_line2,
            " ".join(p for p in [self.city, self.region, self.postal_code] if p),
        ]
        return ", ".join(p for p in parts if p)
