"""django-q2 entry points for the Stripe connection: thin wrappers that call one service each. The
schedules that run them are created in ``billing/stripe/schedules.py``."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from billing.actors import Actor
from billing.clock import practice_today

from . import gateway
from .errors import StripeError
from .inbox import inbox_drain as _drain

log = logging.getLogger(__name__)
SYNC = Actor.system_component("stripe.sync")
RECONCILE = Actor.system_component("stripe.reconcile")


def inbox_drain() -> str:
    result = _drain()
    return f"{result.events} events: {result.processed} processed, {result.failed} failed, {result.waiting} waiting"


def sync_recent() -> str:
    from .sync import default_since
    from .sync import sync_recent as _sync

    if not gateway.config().enabled:
        return "Stripe is not configured"
    try:
        result = _sync(since=default_since(settings.STRIPE_SYNC_LOOKBACK_HOURS), by=SYNC)
    except StripeError as exc:
        log.warning("stripe sync skipped: %s", type(exc).__name__)
        return f"skipped: {exc.user_message}"
    return f"{result.seen} objects seen, {result.queued} new states queued"


def reconcile_daily() -> str:
    from .reconcile import reconcile

    if not gateway.config().enabled:
        return "Stripe is not configured"
    today = practice_today()
    run = reconcile(since=today - timedelta(days=settings.STRIPE_RECONCILE_LOOKBACK_DAYS), until=today, by=RECONCILE)
    return f"{run.get_status_display()}: {run.discrepancy_count} discrepancies"


def fetch_refunds(payment_intent_id: str) -> str:
    from .sync import sync_refunds_of

    try:
        result = sync_refunds_of(payment_intent_id, by=SYNC)
    except StripeError as exc:
        log.warning("stripe refund fetch for %s failed: %s", payment_intent_id, type(exc).__name__)
        raise  # django-q2 records the failure; the next sync finds the refunds anyway
    return f"{result.queued} refunds queued"
