"""What a signed delivery must look like before the inbox stores it.

A valid signature says Stripe (or whoever holds the secret) sent the bytes; it doesn't say we can act on
them. A body that isn't an event we can read is refused with a 400 naming what is wrong, and nothing is
stored: a stored event we can never process would only fail, retry for hours and end as a manager's
task. A well-formed event of a type nobody handles is still stored (and ignored), as Stripe expects.

For the types the core handles, the object is read with the same ``gateway.parse_*`` the handler will
use, and what it yields is checked against what our tables and the ledger accept (ids, statuses,
currencies, amounts up to ``MAX_ENTRY_CENTS``, dates this century, no NUL characters).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from billing.money import MAX_ENTRY_CENTS

from . import gateway
from .errors import InvalidWebhook

# The event types the core's handlers take (handlers.py registers them; listed here so the inbox can
# check an object's shape at the door without importing the handlers).
INVOICE_EVENTS = (
    "invoice.created",
    "invoice.finalized",
    "invoice.updated",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.voided",
    "invoice.marked_uncollectible",
)
INTENT_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.canceled",
)
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
CHARGE_REFUNDED_EVENTS = ("charge.refunded",)
DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
PARSERS: dict[str, tuple[str, Callable[[dict], Any]]] = {
    **dict.fromkeys(INVOICE_EVENTS, ("invoice", gateway.parse_invoice)),
    **dict.fromkeys(INTENT_EVENTS, ("payment intent", gateway.parse_payment_intent)),
    **dict.fromkeys(REFUND_EVENTS, ("refund", gateway.parse_refund)),
    **dict.fromkeys(CHARGE_REFUNDED_EVENTS, ("charge", gateway.parse_charge)),
    **dict.fromkeys(DISPUTE_EVENTS, ("dispute", gateway.parse_dispute)),
}

# Stripe's ids are letters, digits and underscores (evt_…, in_…); ours add ":" and "-" (sync:in_…:paid).
ID_RE = re.compile(r"[A-Za-z0-9_:.\-]{1,255}")
TYPE_RE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")
STATUS_RE = re.compile(r"[a-z_]{0,32}")
CURRENCY_RE = re.compile(r"[a-z]{3}")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_SMALL_INT = 10_000  # attempt counts, quantities, card expiry
SKIP_FIELDS = {"raw"}


def _refuse(field: str, problem: str) -> InvalidWebhook:
    return InvalidWebhook(f"{field}: {problem}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_event(event: Any) -> dict:
    """Return the event if the inbox can store it; raise InvalidWebhook naming the first field that is
    wrong otherwise (nothing is stored then)."""
    if not isinstance(event, dict):
        raise InvalidWebhook("body is not a Stripe event (expected a JSON object)")
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not ID_RE.fullmatch(event_id):
        raise _refuse("id", "missing or not a Stripe id")
    if not isinstance(event_type, str) or len(event_type) > 100 or not TYPE_RE.fullmatch(event_type):
        raise _refuse("type", "missing or not an event type such as invoice.paid")
    data = event.get("data")
    if not isinstance(data, dict):
        raise _refuse("data", "must be an object with the event's object in data.object")
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise _refuse("data.object", "must be an object")
    created = event.get("created")
    if created is not None and not (_is_int(created) and EARLIEST.timestamp() <= created < LATEST.timestamp()):
        raise _refuse("created", "must be a Unix time between 2000 and 2100")
    if event.get("livemode") is not None and not isinstance(event.get("livemode"), bool):
        raise _refuse("livemode", "must be true or false")
    api_version = event.get("api_version")
    if api_version is not None and not (isinstance(api_version, str) and len(api_version) <= 40):
        raise _refuse("api_version", "must be a version string such as 2025-02-24.acacia")
    object_id = obj.get("id")
    if object_id is not None and not (isinstance(object_id, str) and ID_RE.fullmatch(object_id)):
        raise _refuse("data.object.id", "not a Stripe id")
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if customer is not None and not (isinstance(customer, str) and (customer == "" or ID_RE.fullmatch(customer))):
        raise _refuse("data.object.customer", "not a Stripe customer id")
    if event_type in PARSERS:
        _check_object(event_type, obj)
    return event


def _check_object(event_type: str, obj: dict) -> None:
    noun, parse = PARSERS[event_type]
    if not isinstance(obj.get("id"), str):
        raise _refuse("data.object.id", f"a {noun} needs its id")
    try:
        parsed = parse(obj)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError, IndexError) as exc:
        raise _refuse("data.object", f"not a {noun} we can read ({type(exc).__name__}: {str(exc)[:100]})") from None
    _check_value("data.object", parsed)


def _check_value(path: str, value: Any, name: str = "") -> None:
    """Walk a parsed object (our dataclasses, their tuples and metadata dicts) and refuse what our tables
    or the ledger would refuse later, when it could only fail."""
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            if f.name not in SKIP_FIELDS:
                _check_value(f"{path}.{f.name}", getattr(value, f.name), f.name)
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            _check_value(f"{path}[{i}]", item, name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_value(f"{path}.{key}", str(key))
            _check_value(f"{path}.{key}", item)
    elif isinstance(value, str):
        _check_text(path, value, name)
    elif _is_int(value):
        _check_int(path, value, name)
    elif isinstance(value, datetime) and not EARLIEST <= value < LATEST:
        raise _refuse(path, "a date outside 2000-2100")


def _check_text(path: str, value: str, name: str) -> None:
    if "\x00" in value:
        raise _refuse(path, "contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse(path, "is not valid Unicode") from None
    # A plan's id is chosen by whoever made the plan (any text), so only object ids are held to the pattern.
    if (name == "id" or name.endswith("_id")) and name != "plan_id" and value and not ID_RE.fullmatch(value):
        raise _refuse(path, "not a Stripe id")
    if name == "status" and not STATUS_RE.fullmatch(value):
        raise _refuse(path, "not a Stripe status")
    if name == "currency" and not CURRENCY_RE.fullmatch(value):
        raise _refuse(path, "not a three-letter currency code")


def _check_int(path: str, value: int, name: str) -> None:
    if name.endswith("_cents"):
        # Invoice lines may be negative (a discount, a proration); totals and payments never are.
        low = -MAX_ENTRY_CENTS if ".lines[" in path else 0
        if not low <= value <= MAX_ENTRY_CENTS:
            raise _refuse(path, f"an amount outside {low}..{MAX_ENTRY_CENTS} cents")
    elif not 0 <= value <= MAX_SMALL_INT:
        raise _refuse(path, f"outside 0..{MAX_SMALL_INT}")
