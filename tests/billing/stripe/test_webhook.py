"""The webhook endpoint and the inbox behind it: refuse what isn't Stripe's, store each event once, post
once whatever the number, order or timing of deliveries."""

import json

import pytest

from billing.models import (
    AuditEvent,
    EntryKind,
    EntrySource,
    EventStatus,
    LedgerEntry,
    StaffTask,
    StripeEvent,
    StripePayment,
)
from billing.registry import register_stripe_handler, unregister_stripe_handler
from billing.stripe import gateway

from . import payloads as p
from .conftest import StripeCustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return StripeCustomerFactory()


def stripe_entries():
    return LedgerEntry.objects.filter(source=EntrySource.STRIPE)


class TestRefusedDeliveries:
    def test_missing_signature_is_refused_and_nothing_is_stored(self, post_event, customer):
        response = post_event(p.event("invoice.paid", p.invoice(customer=customer.stripe_id)), signature="")
        assert response.status_code == 400
        assert "missing Stripe-Signature" in response.json()["error"]
        assert not StripeEvent.objects.exists() and not stripe_entries().exists()

    def test_forged_signature_is_refused(self, post_event, customer):
        response = post_event(p.event("invoice.paid", p.invoice(customer=customer.stripe_id)), secret="whsec_wrong")
        assert response.status_code == 400
        assert not StripeEvent.objects.exists() and not stripe_entries().exists()

    def test_signature_older_than_the_tolerance_is_refused(self, post_event, customer):
        old = p.now() - 301
        response = post_event(p.event("invoice.paid", p.invoice(customer=customer.stripe_id)), timestamp=old)
        assert response.status_code == 400
        assert "tolerance" in response.json()["error"]
        assert not StripeEvent.objects.exists()

    def test_signature_inside_the_tolerance_is_accepted(self, post_event, customer):
        response = post_event(p.event("invoice.paid", p.invoice(customer=customer.stripe_id)), timestamp=p.now() - 250)
        assert response.status_code == 200

    def test_tampered_body_fails_the_signature(self, client, customer):
        raw, header = p.signed(p.event("invoice.paid", p.invoice(customer=customer.stripe_id, amount=2500)))
        forged = raw.replace(b'"amount_paid": 2500', b'"amount_paid": 1')
        response = client.post(
            "/stripe/webhook/", forged, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
        )
        assert response.status_code == 400
        assert not StripeEvent.objects.exists()

    def test_malformed_json_with_a_valid_signature_is_refused(self, post_event):
        response = post_event(b'{"id": "evt_1", "type": "invoice.paid", "data": {')
        assert response.status_code == 400
        assert response.json()["error"] == "body is not JSON"
        assert not StripeEvent.objects.exists()

    def test_json_that_is_not_an_event_is_refused(self, post_event):
        response = post_event(b'{"hello": "world"}')
        assert response.status_code == 400
        assert not StripeEvent.objects.exists()

    def test_get_is_not_allowed(self, client):
        assert client.get("/stripe/webhook/").status_code == 405

    def test_without_a_webhook_secret_nothing_is_accepted(self, post_event, customer, settings):
        settings.STRIPE_WEBHOOK_SECRET = ""
        response = post_event(p.event("invoice.paid", p.invoice(customer=customer.stripe_id)), secret="whsec_x")
        assert response.status_code == 503
        assert not StripeEvent.objects.exists()


class TestPostingOnce:
    def test_paid_invoice_posts_one_payment_with_stripe_date_and_plan_code(self, post_event, customer):
        paid_at = 1_767_000_000  # 2025-12-29 09:20 UTC: the 29th in New York too
        obj = p.invoice(customer=customer.stripe_id, amount=2500, paid_at=paid_at, code="MEM-B")
        response = post_event(p.event("invoice.payment_succeeded", obj))
        assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}
        entry = stripe_entries().get()
        assert entry.kind == EntryKind.PAYMENT and entry.amount_cents == -2500
        assert entry.external_ref == obj["id"] and entry.code == "MEM-B"
        assert entry.effective_date.isoformat() == "2025-12-29"
        assert entry.guarantor_id == customer.guarantor_id and entry.posted_by_system == "stripe.webhook"
        assert StripeEvent.objects.get().status == EventStatus.PROCESSED
        assert AuditEvent.objects.filter(verb="ledger.posted", patient=customer.guarantor).count() == 1

    def test_same_event_delivered_five_times_is_stored_and_posted_once(self, post_event, customer):
        evt = p.event("invoice.payment_succeeded", p.invoice(customer=customer.stripe_id))
        answers = [post_event(evt).json() for _ in range(5)]
        assert answers[0]["duplicate"] is False and all(a["duplicate"] for a in answers[1:])
        assert StripeEvent.objects.count() == 1
        assert StripeEvent.objects.get().attempts == 1
        assert stripe_entries().count() == 1

    def test_two_events_for_one_invoice_post_once(self, post_event, customer):
        obj = p.invoice(customer=customer.stripe_id)
        post_event(p.event("invoice.payment_succeeded", obj))
        post_event(p.event("invoice.paid", obj))
        assert StripeEvent.objects.count() == 2
        assert stripe_entries().count() == 1

    def test_events_in_reverse_order_end_in_the_right_state(self, post_event, customer):
        base = p.invoice(customer=customer.stripe_id, status="paid", amount=2500, attempt_count=2)
        failed = {**base, "status": "open", "amount_paid": 0, "attempt_count": 1}
        draft = {**base, "status": "draft", "amount_paid": 0, "attempt_count": 0, "attempted": False}
        for evt in [
            p.event("invoice.paid", base),
            p.event("invoice.payment_failed", failed),
            p.event("invoice.created", draft),
        ]:
            post_event(evt)
        row = StripePayment.objects.get(stripe_id=base["id"])
        assert row.status == "paid" and row.attempt_count == 2
        assert stripe_entries().count() == 1
        assert not StaffTask.objects.filter(kind="stripe.payment_failed").exists()  # stale failure: no task

    def test_payment_intent_of_an_invoice_is_left_to_its_invoice(self, post_event, customer):
        inv = p.invoice(customer=customer.stripe_id, amount=2500)
        pi = p.payment_intent(
            customer=customer.stripe_id, amount=2500, intent_id=inv["payment_intent"], invoice=inv["id"]
        )
        post_event(p.event("payment_intent.succeeded", pi))
        post_event(p.event("invoice.payment_succeeded", inv))
        assert stripe_entries().get().external_ref == inv["id"]

    def test_new_invoice_shape_posts_the_same_way(self, post_event, customer):
        obj = p.invoice(customer=customer.stripe_id, amount=4200, shape="basil", code="MEM-P")
        post_event(p.event("invoice.paid", obj, api_version="2025-03-31.basil"))
        entry = stripe_entries().get()
        assert entry.amount_cents == -4200 and entry.code == "MEM-P"
        row = StripePayment.objects.get()
        assert row.subscription_id == obj["parent"]["subscription_details"]["subscription"]
        assert row.payment_intent_id == obj["payments"]["data"][0]["payment"]["payment_intent"]


class TestUnknownAndUnhandled:
    def test_unknown_event_type_is_stored_and_answered_200(self, post_event):
        response = post_event(p.event("balance.available", {"id": "bal_1", "object": "balance"}))
        assert response.status_code == 200
        assert StripeEvent.objects.get().status == EventStatus.IGNORED

    def test_event_for_an_unknown_customer_is_kept_for_a_manager_and_posts_nothing(self, post_event):
        response = post_event(p.event("invoice.paid", p.invoice(customer="cus_stranger")))
        assert response.status_code == 200
        event = StripeEvent.objects.get()
        assert event.status == EventStatus.UNMATCHED and "cus_stranger" in event.last_error
        assert not stripe_entries().exists()
        task = StaffTask.objects.get(kind="stripe.unknown_customer")
        assert task.role == "manager"
        post_event(p.event("invoice.paid", p.invoice(customer="cus_stranger")))
        assert StaffTask.objects.filter(kind="stripe.unknown_customer").count() == 1  # one task per customer

    def test_unmatched_event_posts_after_the_customer_is_linked_and_it_is_replayed(self, post_event):
        from django.core.management import call_command

        obj = p.invoice(customer="cus_later", amount=1800)
        evt = p.event("invoice.paid", obj)
        post_event(evt)
        StripeCustomerFactory(stripe_id="cus_later")
        call_command("replay_stripe_events", "--failed")
        assert stripe_entries().get().amount_cents == -1800
        assert StripeEvent.objects.get().status == EventStatus.PROCESSED


class TestFeatureHandlers:
    """What localstripe never sends: posted as Stripe documents them, to handlers a feature app registers."""

    @pytest.fixture
    def received(self):
        seen = []
        register_stripe_handler(
            "tests.subscriptions",
            ["customer.subscription.updated", "invoice.upcoming"],
            lambda e: seen.append((e.type, e)),
        )
        yield seen
        unregister_stripe_handler("tests.subscriptions")

    @pytest.mark.parametrize("shape", ["acacia", "basil"])
    def test_subscription_updated_reaches_a_registered_handler_with_its_period(self, post_event, received, shape):
        obj = p.subscription(customer="cus_any", shape=shape)
        post_event(p.event("customer.subscription.updated", obj))
        [(kind, event)] = received
        sub = gateway.parse_subscription(event.object)
        assert kind == "customer.subscription.updated" and sub.id == obj["id"] and sub.quantity == 2
        assert sub.current_period_end is not None and sub.interval == "month"
        assert StripeEvent.objects.get().status == EventStatus.PROCESSED

    def test_invoice_upcoming_reaches_the_feature_handler_and_the_core_stays_out(self, post_event, received):
        customer = StripeCustomerFactory()
        obj = p.invoice(customer=customer.stripe_id, status="draft", attempt_count=0)
        obj.pop("id")  # an upcoming invoice has no id yet
        obj["id"] = None
        post_event(p.event("invoice.upcoming", obj))
        assert [k for k, _ in received] == ["invoice.upcoming"]
        assert not StripePayment.objects.exists()

    def test_a_failing_handler_marks_the_event_failed_with_its_error_and_schedules_a_retry(self, post_event):
        def broken(event):
            raise RuntimeError("membership table is locked")

        register_stripe_handler("tests.broken", ["customer.subscription.updated"], broken)
        try:
            post_event(p.event("customer.subscription.updated", p.subscription(customer="cus_x")))
        finally:
            unregister_stripe_handler("tests.broken")
        event = StripeEvent.objects.get()
        assert event.status == EventStatus.FAILED and "membership table is locked" in event.last_error
        assert event.attempts == 1 and event.next_attempt_at is not None

    def test_payload_is_stored_exactly_as_sent(self, post_event):
        evt = p.event("balance.available", {"id": "bal_2", "object": "balance", "note": "ünïcode"})
        post_event(evt)
        assert json.loads(StripeEvent.objects.get().payload) == evt


def test_invoice_payment_failed_webhook_runs_the_failure_handling_once_per_attempt(post_event, customer):
    failure = {"code": "card_declined", "decline_code": "expired_card", "message": "Your card has expired."}
    first = p.invoice(customer=customer.stripe_id, status="open", attempt_count=1, failure=failure)
    post_event(p.event("invoice.payment_failed", first))
    post_event(p.event("invoice.payment_failed", first))  # Stripe's retry of the delivery: a new event id
    task = StaffTask.objects.get(kind="stripe.payment_failed")
    assert "The card has expired" in task.detail and task.patient == customer.guarantor
    second = {**first, "attempt_count": 2}
    post_event(p.event("invoice.payment_failed", second))
    assert StaffTask.objects.filter(kind="stripe.payment_failed").count() == 2  # a new attempt, a new task
    assert AuditEvent.objects.filter(verb="stripe.payment_failed").count() == 2
    assert not stripe_entries().exists()
