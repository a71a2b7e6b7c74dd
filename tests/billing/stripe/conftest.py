"""Stripe fixtures: localstripe (one per test session, on a free port, stopped by its PID), settings
pointing at it, its data wiped before each test, and our live server registered for its webhooks."""

from __future__ import annotations

import time
import uuid

import factory
import pytest
from django.db.models import Max
from django.utils import timezone

from billing.models import StripeCustomer, StripeEvent
from billing.stripe import localstripe
from tests.billing.factories import PatientFactory

from . import payloads

DELIVERY_DELAY = 1.3  # localstripe's webhooks.py sleeps 1 s before it sends


class StripeCustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StripeCustomer

    guarantor = factory.SubFactory(PatientFactory)
    household = factory.LazyAttribute(lambda c: c.guarantor.household)
    stripe_id = factory.Sequence(lambda n: f"cus_factory{n:05d}")


@pytest.fixture(scope="session")
def localstripe_server(tmp_path_factory):
    server = localstripe.start(log_path=tmp_path_factory.mktemp("localstripe") / "localstripe.log")
    yield server
    server.stop()


@pytest.fixture
def stripe_local(localstripe_server, settings):
    """The Stripe API (and Stripe.js) served by localstripe, empty, with no webhook deliveries."""
    settings.STRIPE_API_BASE = localstripe_server.url
    settings.STRIPE_JS_URL = localstripe_server.js_url
    localstripe_server.disable_webhook()
    localstripe_server.wipe()
    yield localstripe_server
    localstripe_server.disable_webhook()
    localstripe_server.last_used = time.monotonic()


@pytest.fixture
def stripe_webhooks(stripe_local, live_server, settings):
    """localstripe delivers its (signed) webhooks to our live test server.

    Each test signs with its own secret, and afterwards deliveries stop and the test waits until the inbox
    has been quiet for a moment, so a late webhook can never land in the next test's database.
    """
    # localstripe sends each webhook 1 s after the API call, to whoever is registered *then*: let the
    # previous test's last calls go out (to nobody) before this test registers.
    time.sleep(max(0.0, getattr(stripe_local, "last_used", 0.0) + DELIVERY_DELAY - time.monotonic()))
    settings.STRIPE_WEBHOOK_SECRET = f"whsec_live_{uuid.uuid4().hex}"
    stripe_local.register_webhook(f"{live_server.url}/stripe/webhook/", settings.STRIPE_WEBHOOK_SECRET)
    yield stripe_local
    stripe_local.disable_webhook()
    _wait_until_quiet()


def _wait_until_quiet(quiet: float = 1.2, timeout: float = 8.0) -> None:
    """localstripe sends each webhook 1 s after the API call; one already on its way lands within a moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = StripeEvent.objects.aggregate(m=Max("received_at"))["m"]
        if latest is None or (timezone.now() - latest).total_seconds() > quiet:
            return
        time.sleep(0.1)


@pytest.fixture
def post_event(client, django_capture_on_commit_callbacks):
    """POST a signed event to the webhook and run what it queues (the worker's drain) right away."""

    def post(evt: dict | bytes, *, secret: str | None = None, timestamp: int | None = None, signature=None):
        raw, header = payloads.signed(evt, secret=secret, timestamp=timestamp)
        extra = {} if signature == "" else {"HTTP_STRIPE_SIGNATURE": signature or header}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/stripe/webhook/", data=raw, content_type="application/json", **extra)

    return post


def wait_for(condition, *, timeout: float = 15.0, interval: float = 0.1, what: str = "condition"):
    """Poll until ``condition()`` is truthy (webhooks arrive 1-2 s after the API call); never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
