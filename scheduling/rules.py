"""Small pure rules shared by models, services and jobs: reading the settings' cadence strings, month
arithmetic for recall dates. No database access here."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError

# One per-address rate-limit budget shared by every public submission: the booking pages and the API.
PUBLIC_SUBMIT_RATE_GROUP = "scheduling.public-submit"

_CADENCE_ITEM = re.compile(r"^(email|sms)\s*:\s*(\d{1,4})\s*([dhm])$")
_UNIT_MINUTES = {"d": 24 * 60, "h": 60, "m": 1}


@dataclass(frozen=True)
class ReminderRule:
    channel: str  # "email" or "sms"
    minutes_before: int

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.minutes_before}m"

    @property
    def offset(self) -> timedelta:
        return timedelta(minutes=self.minutes_before)


def parse_cadence(value: str) -> list[ReminderRule]:
    """ "email:7d, sms:2d, sms:2h" → rules, longest lead first. An empty string means no reminders."""
    rules: list[ReminderRule] = []
    for raw in (value or "").split(","):
        item = raw.strip().lower()
        if not item:
            continue
        match = _CADENCE_ITEM.match(item)
        if not match:
            raise ValidationError(f"“{raw.strip()}” isn't a reminder: write channel:time, e.g. email:7d or sms:2h.")
        channel, amount, unit = match.groups()
        minutes = int(amount) * _UNIT_MINUTES[unit]
        if minutes <= 0 or minutes > 60 * 24 * 60:
            raise ValidationError(f"“{raw.strip()}”: a reminder goes between 1 minute and 60 days before the visit.")
        rules.append(ReminderRule(channel=channel, minutes_before=minutes))
    if len({r.key for r in rules}) != len(rules):
        raise ValidationError("The same reminder is listed twice.")
    return sorted(rules, key=lambda r: -r.minutes_before)


def parse_day_offsets(value: str) -> list[int]:
    """ "-30, 0, 30" → [-30, 0, 30] (sorted). Days relative to a due date."""
    out = []
    for raw in (value or "").split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            out.append(int(item))
        except ValueError:
            raise ValidationError(f"“{item}” isn't a whole number of days.") from None
    if len(set(out)) != len(out):
        raise ValidationError("The same day is listed twice.")
    return sorted(out)


def add_months(day: date, months: int) -> date:
    """Calendar months later, clamped to the month's end (Aug 31 + 6 months → Feb 28/29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
