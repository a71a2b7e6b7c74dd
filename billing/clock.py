"""Calendar dates as the practice sees them (stored times are UTC; the practice lives in its zone)."""

from datetime import date
from zoneinfo import ZoneInfo

from django.utils import timezone


def practice_zone() -> ZoneInfo:
    from billing.selectors.practice import practice_time_zone

    return ZoneInfo(practice_time_zone())


def practice_today() -> date:
    return timezone.localdate(timezone=practice_zone())
