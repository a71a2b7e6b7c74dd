"""The one module that talks to Stripe (the ``stripe`` SDK, pinned at 11.6.1; see docs/stripe.md).

Everything leaving here is one of our own types (``billing.stripe.types``) or one of our errors
(``billing.stripe.errors``): no SDK object, no SDK exception. The ``parse_*`` functions read a Stripe
object from a plain dict, whether it came from an API response or a webhook payload, and accept both
invoice shapes (``invoice.subscription``/``payment_intent`` up to API 2025-02-24, ``invoice.parent`` /
``invoice.payments`` after), so an SDK upgrade or a different webhook API version is a change here only.

Rules every call follows:
- configuration is read from Django settings at call time (tests and the demo point it at localstripe);
- every create carries an idempotency key built from our own ids, so a retry never charges twice;
- network errors, 429s and Stripe 5xx are retried with exponential backoff, then raise StripeUnavailable;
- nothing here logs a patient's data: ids and error types only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlparse

import stripe
from django.conf import settings

from . import types as t
from .errors import (
    CardDeclined,
    InvalidWebhook,
    StripeError,
    StripeNotConfigured,
    StripeObjectMissing,
    StripeRequestRefused,
    StripeUnavailable,
)

log = logging.getLogger(__name__)

CURRENCY = "usd"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
T = TypeVar("T")


# --- Configuration --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StripeConfig:
    secret_key: str
    publishable_key: str
    webhook_secret: str
    api_base: str
    js_url: str
    timeout: int
    retries: int
    retry_delay: float
    tolerance: int

    @property
    def is_local(self) -> bool:
        """The API base is on this machine (localstripe), not Stripe's servers."""
        return (urlparse(self.api_base).hostname or "") in LOCAL_HOSTS

    @property
    def is_live_key(self) -> bool:
        return self.secret_key.startswith(("sk_live_", "rk_live_"))

    @property
    def enabled(self) -> bool:
        return bool(self.secret_key)


def config() -> StripeConfig:
    return StripeConfig(
        secret_key=settings.STRIPE_SECRET_KEY,
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
        api_base=settings.STRIPE_API_BASE.rstrip("/"),
        js_url=settings.STRIPE_JS_URL,
        timeout=settings.STRIPE_TIMEOUT,
        retries=settings.STRIPE_NETWORK_RETRIES,
        retry_delay=settings.STRIPE_RETRY_DELAY,
        tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
    )


_clients: dict[tuple, stripe.StripeClient] = {}


def _client(cfg: StripeConfig) -> stripe.StripeClient:
    if not cfg.secret_key:
        raise StripeNotConfigured()
    key = (cfg.secret_key, cfg.api_base, cfg.timeout)
    client = _clients.get(key)
    if client is None:
        # Retries are ours (below), so that every caller gets the same backoff and the same errors.
        client = stripe.StripeClient(
            cfg.secret_key,
            base_addresses={"api": cfg.api_base},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=cfg.timeout),
        )
        _clients[key] = client
    return client


def _call(what: str, fn: Callable[[stripe.StripeClient], T]) -> T:
    """Run one API call with our retry policy, turning every SDK error into one of ours."""
    cfg = config()
    client = _client(cfg)
    attempt = 0
    while True:
        try:
            return fn(client)
        except stripe.CardError as exc:
            error = exc.error
            pi = getattr(error, "payment_intent", None) if error is not None else None
            raise CardDeclined(
                code=exc.code or "",
                decline_code=(getattr(error, "decline_code", None) or "") if error is not None else "",
                message=exc.user_message or "",
                payment_intent_id=(pi.get("id") if isinstance(pi, dict) else "") or "",
            ) from None
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            if isinstance(exc, stripe.APIError) and (exc.http_status or 500) < 500:
                raise StripeRequestRefused(detail=type(exc).__name__) from None
            if attempt >= cfg.retries:
                log.warning("stripe %s failed after %d tries: %s", what, attempt + 1, type(exc).__name__)
                raise StripeUnavailable(detail=type(exc).__name__) from None
            delay = cfg.retry_delay * (2**attempt) * (1 + random.random() / 4)  # noqa: S311 (jitter)
            attempt += 1
            time.sleep(delay)
        except stripe.AuthenticationError:
            raise StripeNotConfigured("Stripe refused our secret key: ask a manager to check STRIPE_SECRET_KEY.")
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise StripeObjectMissing(detail=exc.code or "resource_missing") from None
            log.warning("stripe %s refused: %s %s", what, exc.http_status, exc.code)
            raise StripeRequestRefused(
                f"Stripe refused the request: {exc.user_message or 'invalid request'}", code=exc.code or ""
            ) from None
        except stripe.StripeError as exc:  # permission, idempotency conflicts, anything newer
            log.warning("stripe %s refused: %s", what, type(exc).__name__)
            raise StripeRequestRefused(detail=type(exc).__name__) from None


def _plain(obj: Any) -> dict:
    """An SDK object as plain dicts and lists (what a webhook payload looks like)."""
    return obj._to_dict_recursive() if hasattr(obj, "_to_dict_recursive") else dict(obj)


def _opts(idempotency_key: str | None) -> dict:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


# --- Reading Stripe objects (API responses and webhook payloads alike) ------------------------------------
def _id(value: Any) -> str:
    """An id whether the field is a bare id or an expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _ts(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def _int(value: Any) -> int:
    return int(value or 0)


def _failure(last_payment_error: Any) -> t.Failure | None:
    if not isinstance(last_payment_error, dict):
        return None
    return t.Failure(
        code=str(last_payment_error.get("code") or ""),
        decline_code=str(last_payment_error.get("decline_code") or ""),
        message=str(last_payment_error.get("message") or ""),
    )


def _charge_failure(charge: Any) -> t.Failure | None:
    if not isinstance(charge, dict) or charge.get("status") != "failed":
        return None
    outcome = charge.get("outcome") or {}
    return t.Failure(
        code=str(charge.get("failure_code") or ""),
        decline_code=str(outcome.get("reason") or ""),
        message=str(charge.get("failure_message") or ""),
    )


def parse_card(pm: dict) -> t.Card:
    card = pm.get("card") or {}
    return t.Card(
        payment_method_id=str(pm.get("id") or ""),
        brand=str(card.get("brand") or ""),
        last4=str(card.get("last4") or ""),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


def parse_customer(d: dict) -> t.Customer:
    settings_ = d.get("invoice_settings") or {}
    return t.Customer(
        id=str(d["id"]),
        email=str(d.get("email") or ""),
        metadata=dict(d.get("metadata") or {}),
        deleted=bool(d.get("deleted")),
        default_payment_method_id=_id(settings_.get("default_payment_method")),
    )


def _line_code(line: dict) -> tuple[str, str]:
    plan = line.get("plan") if isinstance(line.get("plan"), dict) else None
    price = line.get("price") if isinstance(line.get("price"), dict) else None
    pricing = line.get("pricing") or {}
    details_price = (pricing.get("price_details") or {}).get("price") if isinstance(pricing, dict) else None
    plan_id = _id(plan) or _id(price) or _id(details_price)
    for source in (plan, price, line):
        code = ((source or {}).get("metadata") or {}).get("chairside_code")
        if code:
            return plan_id, str(code)[:32]
    return plan_id, ""


def parse_invoice(d: dict) -> t.Invoice:
    parent = d.get("parent") or {}
    subscription = _id(d.get("subscription")) or _id((parent.get("subscription_details") or {}).get("subscription"))
    pi_raw, charge_raw = d.get("payment_intent"), d.get("charge")
    pi_id, charge_id = _id(pi_raw), _id(charge_raw)
    for item in ((d.get("payments") or {}).get("data") or []) if isinstance(d.get("payments"), dict) else []:
        payment = item.get("payment") or {}
        pi_id = pi_id or _id(payment.get("payment_intent"))
        charge_id = charge_id or _id(payment.get("charge"))
        if isinstance(payment.get("payment_intent"), dict):
            pi_raw = pi_raw or payment["payment_intent"]
    failure = _failure(pi_raw.get("last_payment_error")) if isinstance(pi_raw, dict) else None
    failure = failure or _charge_failure(charge_raw)
    lines = []
    for line in (d.get("lines") or {}).get("data") or []:
        plan_id, code = _line_code(line)
        period = line.get("period") or {}
        lines.append(
            t.InvoiceLine(
                description=str(line.get("description") or "")[:200],
                amount_cents=_int(line.get("amount")),
                quantity=_int(line.get("quantity")) or 1,
                plan_id=plan_id,
                code=code,
                period_start=_ts(period.get("start")),
                period_end=_ts(period.get("end")),
            )
        )
    return t.Invoice(
        id=str(d["id"]),
        customer_id=_id(d.get("customer")),
        status=str(d.get("status") or "draft"),
        amount_due_cents=_int(d.get("amount_due")),
        amount_paid_cents=_int(d.get("amount_paid")),
        currency=str(d.get("currency") or CURRENCY),
        created=_ts(d.get("created")) or datetime.now(tz=UTC),
        paid_at=_ts((d.get("status_transitions") or {}).get("paid_at")),
        subscription_id=subscription,
        payment_intent_id=pi_id,
        charge_id=charge_id,
        attempt_count=_int(d.get("attempt_count")),
        attempted=bool(d.get("attempted")),
        failure=failure,
        next_payment_attempt=_ts(d.get("next_payment_attempt")),
        lines=tuple(lines),
        metadata=dict(d.get("metadata") or {}),
        raw=d,
    )


def parse_payment_intent(d: dict) -> t.PaymentIntent:
    charge_raw = d.get("latest_charge")
    if not charge_raw:
        charges = (d.get("charges") or {}).get("data") or []  # API versions before 2022-11-15
        charge_raw = charges[-1] if charges else None
    card = None
    if isinstance(d.get("payment_method"), dict):
        card = parse_card(d["payment_method"])
    elif isinstance(charge_raw, dict):
        details = (charge_raw.get("payment_method_details") or {}).get("card") or {}
        if details:
            card = t.Card(
                payment_method_id=_id(charge_raw.get("payment_method")),
                brand=str(details.get("brand") or ""),
                last4=str(details.get("last4") or ""),
            )
    return t.PaymentIntent(
        id=str(d["id"]),
        customer_id=_id(d.get("customer")),
        status=str(d.get("status") or ""),
        amount_cents=_int(d.get("amount")),
        amount_received_cents=_int(d.get("amount_received"))
        or (_int(d.get("amount")) if d.get("status") == "succeeded" else 0),
        currency=str(d.get("currency") or CURRENCY),
        created=_ts(d.get("created")) or datetime.now(tz=UTC),
        invoice_id=_id(d.get("invoice")),
        charge_id=_id(charge_raw),
        charge_created=_ts(charge_raw.get("created")) if isinstance(charge_raw, dict) else None,
        payment_method_id=_id(d.get("payment_method")),
        card=card,
        failure=_failure(d.get("last_payment_error")) or _charge_failure(charge_raw),
        client_secret=str(d.get("client_secret") or ""),
        metadata=dict(d.get("metadata") or {}),
        raw=d,
    )


def parse_refund(d: dict) -> t.Refund:
    return t.Refund(
        id=str(d["id"]),
        amount_cents=_int(d.get("amount")),
        currency=str(d.get("currency") or CURRENCY),
        status=str(d.get("status") or "succeeded"),
        created=_ts(d.get("created")) or datetime.now(tz=UTC),
        charge_id=_id(d.get("charge")),
        payment_intent_id=_id(d.get("payment_intent")),
        reason=str(d.get("reason") or ""),
        metadata=dict(d.get("metadata") or {}),
        raw=d,
    )


def parse_charge(d: dict) -> t.Charge:
    refunds = d.get("refunds")
    listed = None
    if isinstance(refunds, dict) and isinstance(refunds.get("data"), list):
        listed = tuple(parse_refund(r) for r in refunds["data"])
    return t.Charge(
        id=str(d["id"]),
        customer_id=_id(d.get("customer")),
        amount_cents=_int(d.get("amount")),
        amount_refunded_cents=_int(d.get("amount_refunded")),
        created=_ts(d.get("created")) or datetime.now(tz=UTC),
        status=str(d.get("status") or ""),
        payment_intent_id=_id(d.get("payment_intent")),
        invoice_id=_id(d.get("invoice")),
        refunds=listed,
    )


def parse_dispute(d: dict) -> t.Dispute:
    return t.Dispute(
        id=str(d["id"]),
        charge_id=_id(d.get("charge")),
        payment_intent_id=_id(d.get("payment_intent")),
        amount_cents=_int(d.get("amount")),
        currency=str(d.get("currency") or CURRENCY),
        status=str(d.get("status") or ""),
        reason=str(d.get("reason") or ""),
        created=_ts(d.get("created")) or datetime.now(tz=UTC),
        evidence_due_by=_ts((d.get("evidence_details") or {}).get("due_by")),
    )


def parse_setup_intent(d: dict) -> t.SetupIntent:
    return t.SetupIntent(
        id=str(d["id"]),
        customer_id=_id(d.get("customer")),
        status=str(d.get("status") or ""),
        payment_method_id=_id(d.get("payment_method")),
        client_secret=str(d.get("client_secret") or ""),
        metadata=dict(d.get("metadata") or {}),
    )


def parse_subscription(d: dict) -> t.Subscription:
    items = (d.get("items") or {}).get("data") or []
    first = items[0] if items else {}
    plan = d.get("plan") or first.get("plan") or first.get("price") or {}
    recurring = plan.get("recurring") or {}
    return t.Subscription(
        id=str(d["id"]),
        customer_id=_id(d.get("customer")),
        status=str(d.get("status") or ""),
        plan_id=_id(plan),
        quantity=_int(d.get("quantity") or first.get("quantity")) or 1,
        start=_ts(d.get("start_date") or d.get("created")) or datetime.now(tz=UTC),
        interval=str(plan.get("interval") or recurring.get("interval") or "month"),
        interval_count=_int(plan.get("interval_count") or recurring.get("interval_count")) or 1,
        # Up to API 2025-02-24 the period is on the subscription; after, on each item.
        current_period_start=_ts(d.get("current_period_start") or first.get("current_period_start")),
        current_period_end=_ts(d.get("current_period_end") or first.get("current_period_end")),
        cancel_at_period_end=bool(d.get("cancel_at_period_end")),
        metadata=dict(d.get("metadata") or {}),
    )


# --- Webhook signatures -----------------------------------------------------------------------------------
def verify_webhook(payload: bytes, signature_header: str) -> dict:
    """Check a delivery's ``Stripe-Signature`` with the SDK (HMAC and the timestamp tolerance) and return
    the event as a dict. Raises InvalidWebhook for anything we must not store."""
    cfg = config()
    if not cfg.webhook_secret:
        raise StripeNotConfigured("STRIPE_WEBHOOK_SECRET is not set, so no webhook can be verified.")
    if not signature_header:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidWebhook("body is not UTF-8") from None
    try:
        stripe.WebhookSignature.verify_header(text, signature_header, cfg.webhook_secret, cfg.tolerance)
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook(f"signature check failed: {exc.user_message or exc}") from None
    try:
        event = json.loads(text)
    except ValueError:
        raise InvalidWebhook("body is not JSON") from None
    if not isinstance(event, dict):
        raise InvalidWebhook("body is not a Stripe event (expected a JSON object)")
    return event  # its shape is checked by the inbox (shapes.check_event) before anything is stored


def sign_webhook(payload: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for a payload, as Stripe computes it. For tests, the benchmark and
    localstripe-free demos: our own events signed with our own secret."""
    secret = secret if secret is not None else config().webhook_secret
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


# --- Customers and cards ----------------------------------------------------------------------------------
def customer_create(*, email: str, name: str, metadata: dict, idempotency_key: str) -> t.Customer:
    params = {"metadata": metadata}
    if email:
        params["email"] = email
    if name:
        params["name"] = name
    obj = _call("customer.create", lambda c: c.customers.create(params=params, options=_opts(idempotency_key)))
    return parse_customer(_plain(obj))


def customer_retrieve(customer_id: str) -> t.Customer:
    return parse_customer(_plain(_call("customer.retrieve", lambda c: c.customers.retrieve(customer_id))))


def customer_set_default_card(*, customer_id: str, payment_method_id: str) -> t.Customer:
    params = {"invoice_settings": {"default_payment_method": payment_method_id}}
    obj = _call("customer.update", lambda c: c.customers.update(customer_id, params=params))
    return parse_customer(_plain(obj))


def payment_method_retrieve(payment_method_id: str) -> t.Card:
    obj = _call("payment_method.retrieve", lambda c: c.payment_methods.retrieve(payment_method_id))
    return parse_card(_plain(obj))


def payment_method_attach(*, payment_method_id: str, customer_id: str, idempotency_key: str) -> t.Card:
    """Attach a card to the customer (Stripe attaches a card set up through a SetupIntent by itself;
    localstripe does not, and attaching again is harmless)."""
    obj = _call(
        "payment_method.attach",
        lambda c: c.payment_methods.attach(
            payment_method_id, params={"customer": customer_id}, options=_opts(idempotency_key)
        ),
    )
    return parse_card(_plain(obj))


def setup_intent_create(*, customer_id: str, metadata: dict, idempotency_key: str) -> t.SetupIntent:
    params = {"customer": customer_id, "usage": "off_session", "payment_method_types": ["card"], "metadata": metadata}
    obj = _call("setup_intent.create", lambda c: c.setup_intents.create(params=params, options=_opts(idempotency_key)))
    return parse_setup_intent(_plain(obj))


def setup_intent_retrieve(setup_intent_id: str) -> t.SetupIntent:
    return parse_setup_intent(
        _plain(_call("setup_intent.retrieve", lambda c: c.setup_intents.retrieve(setup_intent_id)))
    )


# --- Payments and refunds ---------------------------------------------------------------------------------
def payment_intent_create(
    *,
    customer_id: str,
    amount_cents: int,
    payment_method_id: str,
    metadata: dict,
    idempotency_key: str,
    off_session: bool,
) -> t.PaymentIntent:
    """Create and confirm a card payment in one call. Raises CardDeclined when the bank says no (nothing
    charged); returns the intent otherwise (``succeeded``, or ``requires_action`` for 3-D Secure)."""
    params: dict = {
        "amount": amount_cents,
        "currency": CURRENCY,
        "customer": customer_id,
        "payment_method": payment_method_id,
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": metadata,
    }
    if off_session:
        params["off_session"] = True
    obj = _call(
        "payment_intent.create", lambda c: c.payment_intents.create(params=params, options=_opts(idempotency_key))
    )
    return parse_payment_intent(_plain(obj))


def payment_intent_retrieve(payment_intent_id: str) -> t.PaymentIntent:
    obj = _call("payment_intent.retrieve", lambda c: c.payment_intents.retrieve(payment_intent_id))
    return parse_payment_intent(_plain(obj))


def refund_create(*, payment_intent_id: str, amount_cents: int, metadata: dict, idempotency_key: str) -> t.Refund:
    params = {"payment_intent": payment_intent_id, "amount": amount_cents, "metadata": metadata}
    obj = _call("refund.create", lambda c: c.refunds.create(params=params, options=_opts(idempotency_key)))
    return parse_refund(_plain(obj))


def invoice_retrieve(invoice_id: str) -> t.Invoice:
    obj = _call("invoice.retrieve", lambda c: c.invoices.retrieve(invoice_id, params={"expand": ["payment_intent"]}))
    return parse_invoice(_plain(obj))


def refund_retrieve(refund_id: str) -> t.Refund:
    return parse_refund(_plain(_call("refund.retrieve", lambda c: c.refunds.retrieve(refund_id))))


# --- Listing recent objects (the state sync and reconciliation) -------------------------------------------
def _recent(what: str, list_fn: Callable, since: datetime, params: dict) -> Iterator[dict]:
    """Every object created at or after ``since``, newest first on Stripe. Real Stripe filters by
    ``created[gte]`` itself; localstripe can't (it answers 500), so there we list all and filter here."""
    cfg = config()
    params = {"limit": 100, **params}
    if not cfg.is_local:
        params["created"] = {"gte": int(since.timestamp())}
    page = _call(what, lambda c: list_fn(c)(params=params))
    while True:
        for obj in page.data:
            item = _plain(obj)
            if _int(item.get("created")) >= int(since.timestamp()):
                yield item
        if not page.has_more or not page.data:
            return
        last = page.data[-1].id
        page = _call(what, lambda c, last=last: list_fn(c)(params={**params, "starting_after": last}))


def list_invoices(since: datetime) -> Iterator[t.Invoice]:
    for d in _recent("invoice.list", lambda c: c.invoices.list, since, {"expand": ["data.payment_intent"]}):
        yield parse_invoice(d)


def list_payment_intents(since: datetime) -> Iterator[t.PaymentIntent]:
    for d in _recent("payment_intent.list", lambda c: c.payment_intents.list, since, {}):
        yield parse_payment_intent(d)


def list_refunds(since: datetime) -> Iterator[t.Refund]:
    for d in _recent("refund.list", lambda c: c.refunds.list, since, {}):
        yield parse_refund(d)


def list_refunds_for_payment_intent(payment_intent_id: str) -> list[t.Refund]:
    page = _call("refund.list", lambda c: c.refunds.list(params={"limit": 100, "payment_intent": payment_intent_id}))
    return [parse_refund(_plain(obj)) for obj in page.auto_paging_iter()]


# --- Plans and subscriptions (memberships use these; tests and stripe_advance too) ------------------------
def plan_ensure(*, plan_id: str, amount_cents: int, interval: str, name: str, code: str = "") -> str:
    """A Plan with our id (Plans, not Prices: both Stripe and localstripe accept them)."""
    try:
        return str(_call("plan.retrieve", lambda c: c.plans.retrieve(plan_id)).id)
    except StripeObjectMissing:
        pass
    meta = {"chairside_code": code} if code else {}
    params = {
        "id": plan_id,
        "amount": amount_cents,
        "currency": CURRENCY,
        "interval": interval,
        "product": {"name": name, "metadata": meta},
        "metadata": meta,
    }
    obj = _call("plan.create", lambda c: c.plans.create(params=params, options=_opts(f"chairside-plan-{plan_id}")))
    return str(obj.id)


def subscription_create(
    *, customer_id: str, plan_id: str, quantity: int, metadata: dict, idempotency_key: str
) -> t.Subscription:
    params = {"customer": customer_id, "items": [{"plan": plan_id, "quantity": quantity}], "metadata": metadata}
    obj = _call("subscription.create", lambda c: c.subscriptions.create(params=params, options=_opts(idempotency_key)))
    return parse_subscription(_plain(obj))


def subscriptions_active() -> Iterator[t.Subscription]:
    page = _call("subscription.list", lambda c: c.subscriptions.list(params={"limit": 100, "status": "active"}))
    for obj in page.auto_paging_iter():
        yield parse_subscription(_plain(obj))


def invoices_for_subscription(subscription_id: str) -> list[t.Invoice]:
    page = _call("invoice.list", lambda c: c.invoices.list(params={"limit": 100, "subscription": subscription_id}))
    return [parse_invoice(_plain(obj)) for obj in page.auto_paging_iter()]


def invoice_create_and_pay(*, customer_id: str, subscription_id: str, idempotency_key: str) -> t.Invoice:
    """Bill a subscription's next period now (the demo/test clock; see ``stripe_advance``)."""
    params = {"customer": customer_id, "subscription": subscription_id}
    invoice = _call("invoice.create", lambda c: c.invoices.create(params=params, options=_opts(idempotency_key)))
    try:
        _call("invoice.pay", lambda c: c.invoices.pay(invoice.id, options=_opts(f"{idempotency_key}-pay")))
    except CardDeclined:
        pass  # the invoice stays open; the state sync sees that
    return invoice_retrieve(str(invoice.id))


__all__ = ["StripeConfig", "StripeError", "config"]
