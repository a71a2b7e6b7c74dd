from django import template

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
def task_kind(value: str) -> str:
    return task_kind_label(value)


@register.simple_tag(takes_context=True)
def nav_active(context, url: str) -> str:
    """'active' when the current page is this nav item's page or below it (Today only on itself)."""
    path = context["request"].path
    home = url.rstrip("/").count("/") <= 1
    return "active" if path == url or (not home and path.startswith(url)) else ""
