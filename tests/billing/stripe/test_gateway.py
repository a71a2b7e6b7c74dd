"""The gateway's retry policy and error mapping, against a small scripted HTTP server standing in for
Stripe's edge cases (429s, 5xx, refusals) that localstripe can't be asked to produce."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from billing.stripe import gateway
from billing.stripe.errors import (
    CardDeclined,
    StripeNotConfigured,
    StripeObjectMissing,
    StripeRequestRefused,
    StripeUnavailable,
    decline_message,
)

from . import payloads as p


class ScriptedStripe:
    """Answers each request with the next (status, body) of a script; records what it was sent."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
                status, body = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted(settings):
    servers = []

    def make(*script):
        server = ScriptedStripe(script)
        servers.append(server)
        settings.STRIPE_API_BASE = server.url
        return server

    yield make
    for server in servers:
        server.close()


CUSTOMER = {"id": "cus_ok", "object": "customer", "email": "a@example.com", "metadata": {"chairside_guarantor_id": "7"}}
RATE_LIMITED = (429, {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}})


def create_customer():
    return gateway.customer_create(
        email="a@example.com",
        name="A B",
        metadata={"chairside_guarantor_id": "7"},
        idempotency_key="chairside-customer-7",
    )


def test_429s_are_retried_with_backoff_under_the_same_idempotency_key(scripted, settings):
    settings.STRIPE_RETRY_DELAY = 0.05
    server = scripted(RATE_LIMITED, RATE_LIMITED, (200, CUSTOMER))
    started = time.monotonic()
    customer = create_customer()
    assert customer.id == "cus_ok" and customer.metadata == {"chairside_guarantor_id": "7"}
    assert len(server.requests) == 3
    assert {r[2]["Idempotency-Key"] for r in server.requests} == {"chairside-customer-7"}
    assert time.monotonic() - started >= 0.05 + 0.1  # 0.05 s, then 0.1 s


def test_server_errors_are_retried_then_reported_as_unavailable(scripted):
    server = scripted((500, {"error": {"type": "api_error", "message": "boom"}}))
    with pytest.raises(StripeUnavailable) as caught:
        create_customer()
    assert len(server.requests) == 3  # the first try and STRIPE_NETWORK_RETRIES=2 more
    assert "could not be reached" in caught.value.user_message


def test_unreachable_stripe_fails_cleanly_after_its_retries(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(StripeUnavailable):
        create_customer()
    assert time.monotonic() - started < 3


def test_missing_object_and_bad_request_are_refusals_not_retried(scripted):
    server = scripted(
        (404, {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such"}})
    )
    with pytest.raises(StripeObjectMissing):
        gateway.customer_retrieve("cus_gone")
    scripted((400, {"error": {"type": "invalid_request_error", "message": "Invalid integer: abc"}}))
    with pytest.raises(StripeRequestRefused, match="Invalid integer"):
        create_customer()
    assert len(server.requests) == 1


def test_a_refused_key_says_to_check_the_key(scripted):
    scripted((401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}))
    with pytest.raises(StripeNotConfigured, match="STRIPE_SECRET_KEY"):
        create_customer()


def test_no_secret_key_means_not_configured_without_a_call(settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(StripeNotConfigured):
        create_customer()


def test_card_error_becomes_a_plain_decline_with_its_payment_intent(scripted):
    error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "payment_intent": {"id": "pi_declined"},
    }
    scripted((402, {"error": error}))
    with pytest.raises(CardDeclined) as caught:
        gateway.payment_intent_create(
            customer_id="cus_1",
            amount_cents=5000,
            payment_method_id="pm_1",
            metadata={},
            idempotency_key="k",
            off_session=True,
        )
    assert caught.value.user_message == "The card was declined for insufficient funds. Ask for another card."
    assert caught.value.payment_intent_id == "pi_declined"


def test_every_decline_has_words_for_the_desk():
    assert decline_message("card_declined", "do_not_honor").startswith("The bank declined")
    assert decline_message("expired_card") == "The card has expired. Ask for another card."
    assert "call their bank" in decline_message("something_new", "")


class TestReadingBothShapes:
    def test_invoice_old_and_new_shapes_read_the_same(self):
        old = gateway.parse_invoice(
            p.invoice(customer="cus_1", invoice_id="in_1", subscription="sub_1", payment_intent="pi_1", code="X")
        )
        new = gateway.parse_invoice(
            p.invoice(
                customer="cus_1",
                invoice_id="in_1",
                subscription="sub_1",
                payment_intent="pi_1",
                code="X",
                shape="basil",
            )
        )
        for parsed in (old, new):
            assert (parsed.subscription_id, parsed.payment_intent_id, parsed.code) == ("sub_1", "pi_1", "X")
            assert parsed.status == "paid" and parsed.amount_paid_cents == 2500 and parsed.paid_at is not None

    def test_failed_invoice_carries_the_decline_from_its_expanded_payment_intent(self):
        inv = gateway.parse_invoice(
            p.invoice(
                customer="cus_1",
                status="open",
                failure={"code": "card_declined", "decline_code": "expired_card", "message": "Your card has expired."},
            )
        )
        assert inv.payment_failed and inv.failure.decline_code == "expired_card"

    def test_payment_intent_from_before_2022_lists_its_charges(self):
        pi = p.payment_intent(customer="cus_1")
        charge = {
            "id": "ch_old",
            "created": 1_700_000_000,
            "status": "succeeded",
            "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}},
        }
        pi.pop("latest_charge")
        pi["charges"] = {"object": "list", "data": [charge]}
        parsed = gateway.parse_payment_intent(pi)
        assert parsed.charge_id == "ch_old" and parsed.card.last4 == "4242" and parsed.paid_at.year == 2023

    def test_webhook_signature_roundtrip(self, settings):
        raw, header = p.signed(p.event("invoice.paid", {"id": "in_1", "object": "invoice"}))
        assert gateway.verify_webhook(raw, header)["type"] == "invoice.paid"
