from zoneinfo import ZoneInfo

from django import template
from django.utils import timezone

from billing.money import format_cents
from billing.registry import task_kind_label
from billing.validators import format_phone

register = template.Library()


@register.filter
def cents(value, sign: str = "") -> str:
    """Integer cents as dollars: 123456 → "$1,234.56", -500 → "−$5.00". ``|cents:"+"`` shows "+" too."""
    if value is None or value == "":
        return ""
    return format_cents(value, plus=sign == "+")


@register.filter
def phone(value: str) -> str:
    return format_phone(value)


@register.filter
def in_zone(value, zone_name: str):
    """An aware datetime shown in a location's time zone (``{{ appt.start|in_zone:loc.time_zone }}``)."""
    if not value:
        return value
    return timezone.localtime(value, ZoneInfo(zone_name))


@register.filter
def task_kind(value: str) -> str:
    return task_kind_label(value)


@register.simple_tag(takes_context=True)
def nav_active(context, url: str) -> str:
    """'active' when the current page is this nav item's page or below it (Today only on itself)."""
    path = context["request"].path
    home = url.rstrip("/").count("/") <= 1
    return "active" if path == url or (not home and path.startswith(url)) else ""
