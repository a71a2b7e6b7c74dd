"""Stripe events built from Stripe's documented payload shapes (API reference, "The Event object",
"The Invoice object" …), for what localstripe can't produce: refunds', disputes' and failed payments'
webhooks, customer.subscription.updated, invoice.upcoming. ``shape="basil"`` builds the invoice as API
versions from 2025-03-31 send it (``parent``/``payments`` instead of ``subscription``/``payment_intent``)."""

from __future__ import annotations

import itertools
import json
import time

from billing.stripe.gateway import sign_webhook

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_test{next(_ids):06d}"


def now() -> int:
    return int(time.time())


def event(
    event_type: str,
    obj: dict,
    *,
    event_id: str | None = None,
    created: int | None = None,
    api_version: str = "2025-02-24.acacia",
) -> dict:
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": created or now(),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def invoice(
    *,
    customer: str,
    status: str = "paid",
    amount: int = 2500,
    invoice_id: str | None = None,
    subscription: str | None = None,
    payment_intent: str | None = None,
    charge: str | None = None,
    attempt_count: int = 1,
    created: int | None = None,
    paid_at: int | None = None,
    code: str = "MEM-B",
    shape: str = "acacia",
    failure: dict | None = None,
) -> dict:
    created = created or now()
    subscription = subscription or new_id("sub")
    payment_intent = payment_intent or new_id("pi")
    paid = status == "paid"
    obj = {
        "id": invoice_id or new_id("in"),
        "object": "invoice",
        "customer": customer,
        "status": status,
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "currency": "usd",
        "created": created,
        "attempt_count": attempt_count,
        "attempted": attempt_count > 0,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None if paid else created + 3 * 86400,
        "status_transitions": {
            "finalized_at": created,
            "paid_at": (paid_at or created) if paid else None,
            "voided_at": None,
            "marked_uncollectible_at": None,
        },
        "lines": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": new_id("il"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": "usd",
                    "description": "1 × Membership (at $25.00 / month)",
                    "period": {"start": created, "end": created + 30 * 86400},
                    "quantity": 1,
                    "type": "subscription",
                }
            ],
        },
    }
    line = obj["lines"]["data"][0]
    if shape == "acacia":
        obj.update(subscription=subscription, payment_intent=payment_intent, charge=charge or new_id("ch"))
        line["plan"] = {
            "id": "plan_basic",
            "object": "plan",
            "amount": amount,
            "interval": "month",
            "metadata": {"chairside_code": code},
        }
        line["subscription"] = subscription
    else:
        obj["parent"] = {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription, "metadata": {}},
        }
        obj["payments"] = {
            "object": "list",
            "data": [
                {
                    "object": "invoice_payment",
                    "status": "paid" if paid else "open",
                    "payment": {"type": "payment_intent", "payment_intent": payment_intent},
                }
            ],
        }
        line["pricing"] = {"type": "price_details", "price_details": {"price": "price_basic", "product": "prod_x"}}
        line["metadata"] = {"chairside_code": code}
    if failure and shape == "acacia":
        obj["payment_intent"] = {
            "id": payment_intent,
            "object": "payment_intent",
            "status": "requires_payment_method",
            "last_payment_error": failure,
        }
    return obj


def payment_intent(
    *,
    customer: str,
    amount: int = 5000,
    status: str = "succeeded",
    intent_id: str | None = None,
    invoice: str | None = None,
    charge: str | None = None,
    metadata: dict | None = None,
    created: int | None = None,
    failure: dict | None = None,
) -> dict:
    created = created or now()
    return {
        "id": intent_id or new_id("pi"),
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": "usd",
        "customer": customer,
        "created": created,
        "invoice": invoice,
        "latest_charge": charge or new_id("ch"),
        "last_payment_error": failure,
        "livemode": False,
        "metadata": metadata or {},
        "payment_method": new_id("pm"),
        "status": status,
    }


def refund(
    *,
    payment_intent: str,
    amount: int,
    status: str = "succeeded",
    refund_id: str | None = None,
    charge: str | None = None,
    created: int | None = None,
) -> dict:
    return {
        "id": refund_id or new_id("re"),
        "object": "refund",
        "amount": amount,
        "charge": charge or new_id("ch"),
        "created": created or now(),
        "currency": "usd",
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": "requested_by_customer",
        "status": status,
    }


def charge(
    *,
    customer: str,
    payment_intent: str,
    amount: int,
    amount_refunded: int = 0,
    charge_id: str | None = None,
    refunds: list | None = None,
) -> dict:
    obj = {
        "id": charge_id or new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_refunded": amount_refunded,
        "created": now(),
        "currency": "usd",
        "customer": customer,
        "payment_intent": payment_intent,
        "refunded": amount_refunded >= amount,
        "status": "succeeded",
    }
    if refunds is not None:
        obj["refunds"] = {"object": "list", "data": refunds, "has_more": False}
    return obj


def dispute(
    *, charge: str, payment_intent: str, amount: int, status: str = "needs_response", dispute_id: str | None = None
) -> dict:
    return {
        "id": dispute_id or new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "charge": charge,
        "created": now(),
        "currency": "usd",
        "evidence_details": {"due_by": now() + 7 * 86400, "has_evidence": False, "past_due": False},
        "payment_intent": payment_intent,
        "reason": "fraudulent",
        "status": status,
    }


def subscription(
    *, customer: str, subscription_id: str | None = None, status: str = "active", shape: str = "acacia"
) -> dict:
    start = now()
    item = {
        "id": new_id("si"),
        "object": "subscription_item",
        "quantity": 2,
        "plan": {"id": "plan_basic", "object": "plan", "interval": "month", "interval_count": 1},
    }
    obj = {
        "id": subscription_id or new_id("sub"),
        "object": "subscription",
        "customer": customer,
        "status": status,
        "start_date": start,
        "cancel_at_period_end": False,
        "metadata": {},
        "items": {"object": "list", "data": [item]},
    }
    if shape == "acacia":
        obj.update(current_period_start=start, current_period_end=start + 30 * 86400)
    else:
        item.update(current_period_start=start, current_period_end=start + 30 * 86400)
    return obj


def body(evt: dict) -> bytes:
    return json.dumps(evt).encode()


def signed(evt: dict | bytes, *, secret: str | None = None, timestamp: int | None = None) -> tuple[bytes, str]:
    raw = evt if isinstance(evt, bytes) else body(evt)
    return raw, sign_webhook(raw, secret=secret, timestamp=timestamp)
