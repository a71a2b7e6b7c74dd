import json
import re
from datetime import datetime

from django import template
from django.utils import timezone

from billing.audit_words import actor_words, verb_words
from billing.money import format_cents
from billing.registry import task_kind_label, task_target
from billing.validators import format_phone

register = template.Library()


@register.filter
def cents(value, sign: str = "") -> str:
    """Integer cents as dollars: 123456 → "$1,234.56", -500 → "−$5.00". ``|cents:"+"`` shows "+" too."""
    if value is None or value == "":
        return ""
    return format_cents(value, plus=sign == "+")


@register.filter
def balance(value, style: str = "") -> str:
    """A balance as staff read it: 30750 → "$307.50" (owed), -2500 → "Credit on account $25.00" (or, with
    ``|balance:"short"`` for a table column, "$25.00 credit"), 0 → "$0.00"."""
    if value is None or value == "":
        return ""
    if int(value) < 0:
        credit = format_cents(-int(value))
        return f"{credit} credit" if style == "short" else f"Credit on account {credit}"
    return format_cents(value)


@register.filter
def ledger_memo(value: str) -> str:
    """A ledger memo in words: rows posted before memos were worded name a Stripe id; show what it was instead."""
    from billing.stripe.memos import memo_for_display

    return memo_for_display(value)


@register.filter
def phone(value: str) -> str:
    return format_phone(value)


@register.filter
def task_kind(value: str) -> str:
    return task_kind_label(value)


@register.simple_tag
def task_link(task) -> dict | None:
    """``{% task_link task as link %}``: {"url", "label"} of what the task is about, or None."""
    found = task_target(task.kind, task.context)
    return {"url": found[0], "label": found[1]} if found else None


@register.simple_tag(takes_context=True)
def nav_active(context, url: str) -> str:
    """'active' when the current page is this nav item's page or below it (Today only on itself)."""
    path = context["request"].path
    home = url.rstrip("/").count("/") <= 1
    return "active" if path == url or (not home and path.startswith(url)) else ""


# --- The audit trail, as a manager reads it ------------------------------------------------------------
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


@register.filter
def audit_verb(event) -> str:
    """``ledger.posted`` → "Posted a ledger entry" (unnamed verbs still read as words)."""
    return verb_words(event.verb)


@register.filter
def audit_actor(event) -> str:
    """A staff username, or the part of the system in words ("patient (manage link)", "Stripe (webhook)")."""
    return actor_words(system=event.actor_system, label=event.actor_label)


def _audit_value(value, zone) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return timezone.localtime(moment, zone).strftime("%Y-%m-%d %H:%M %Z")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@register.filter
def audit_changes(event) -> list[dict]:
    """One row per field in the event's before/after: {"field", "before", "after", "changed"}. Stored
    datetimes (UTC) show in the event's location's zone, or the practice's, with the zone's name."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    zone = event.location.zone if event.location_id and event.location else timezone.get_current_timezone()
    rows = []
    for name in list(dict.fromkeys([*before, *after])):
        rows.append(
            {
                "field": name.replace("_", " "),
                "before": _audit_value(before.get(name), zone) if event.before is not None else "",
                "after": _audit_value(after.get(name), zone) if event.after is not None else "",
                "changed": event.before is not None and event.after is not None and before.get(name) != after.get(name),
            }
        )
    return rows
