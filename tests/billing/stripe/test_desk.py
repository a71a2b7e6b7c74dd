"""Taking a card payment at the desk and refunding it, against localstripe through the real SDK; and the
pages around it (permissions, input errors, a declined card, Stripe unreachable)."""

import uuid
from datetime import timedelta

import pytest
import requests
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from billing.actors import Actor
from billing.models import (
    AuditEvent,
    EntryKind,
    EntrySource,
    LedgerEntry,
    Message,
    PaymentOrigin,
    StripeCustomer,
    StripePayment,
    StripeRefund,
)
from billing.stripe import desk, gateway
from billing.stripe.customers import customer_ensure, customer_save_card
from billing.stripe.errors import CardDeclined, StripeUnavailable
from billing.stripe.inbox import inbox_drain
from billing.stripe.sync import sync_recent
from tests.billing.factories import LedgerEntryFactory, PatientFactory

from . import payloads as p

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]
DECLINES_ON_CHARGE = "4000000000000341"


def attempt() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def family():
    """A parent who pays (the guarantor) and a child; both owe for visits."""
    parent = PatientFactory(first_name="Dana", email="dana@example.com")
    child = PatientFactory(household=parent.household, first_name="Sam")
    LedgerEntryFactory(patient=child, amount_cents=15000)
    return parent, child


def card_on_file(guarantor, card="pm_card_visa") -> StripeCustomer:
    customer = customer_ensure(guarantor=guarantor, by=Actor.system_component("tests"))
    pm = gateway.payment_method_attach(payment_method_id=card, customer_id=customer.stripe_id, idempotency_key=card)
    gateway.customer_set_default_card(customer_id=customer.stripe_id, payment_method_id=pm.payment_method_id)
    return customer_save_card(customer=customer, card=pm, by=Actor.system_component("tests"))


def browser_enters_card(localstripe_url, setup, number="4242424242424242"):
    """What Stripe.js's confirmCardSetup sends from the browser: the card goes to Stripe, not to us."""
    response = requests.post(
        f"{localstripe_url}/v1/setup_intents/{setup.id}/confirm",
        json={
            "key": "pk_test_chairside",
            "use_stripe_sdk": True,
            "client_secret": setup.client_secret,
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"},
            },
        },
        timeout=5,
    )
    return response


class TestTakingPayments:
    def test_card_on_file_pays_toward_the_household_and_posts_once_with_a_receipt(
        self, stripe_local, family, front_desk
    ):
        parent, child = family
        card_on_file(parent)
        outcome = desk.desk_payment_take(patient=child, amount_cents=12345, attempt=attempt(), by=Actor.of(front_desk))
        assert outcome.status == "succeeded"
        entry = LedgerEntry.objects.get(source=EntrySource.STRIPE)
        assert entry.kind == EntryKind.PAYMENT and entry.amount_cents == -12345
        assert entry.patient == child and entry.guarantor == parent and entry.posted_by_user == front_desk
        assert entry.memo == "Card payment at the desk, Visa •••• 4242"
        payment = StripePayment.objects.get()
        assert payment.origin == PaymentOrigin.DESK and payment.taken_by == front_desk and payment.ledger_entry == entry
        receipt = Message.objects.get(template="billing/payment_receipt")
        assert receipt.to == "dana@example.com" and "$123.45" in receipt.subject and "Dana" in receipt.body
        # The sync then sees the same payment succeeded at Stripe: nothing more to post.
        sync_recent(since=timezone.now() - timedelta(hours=1), by=Actor.system_component("stripe.sync"))
        inbox_drain()
        assert LedgerEntry.objects.filter(source=EntrySource.STRIPE).count() == 1
        assert Message.objects.filter(template="billing/payment_receipt").count() == 1

    def test_new_card_set_up_in_the_browser_pays_and_is_kept_on_file(self, stripe_local, family, front_desk):
        parent, child = family
        by = Actor.of(front_desk)
        setup = desk.desk_setup_intent(patient=child, attempt=attempt(), by=by)
        assert setup.client_secret.startswith(setup.id)
        assert browser_enters_card(stripe_local.url, setup).status_code == 200
        outcome = desk.desk_payment_take(
            patient=child, amount_cents=5000, attempt=attempt(), setup_intent_id=setup.id, save_card=True, by=by
        )
        assert outcome.status == "succeeded" and outcome.card_saved
        customer = StripeCustomer.objects.get(guarantor=parent)
        assert customer.card_last4 == "4242" and customer.default_payment_method
        assert (
            gateway.customer_retrieve(customer.stripe_id).default_payment_method_id == customer.default_payment_method
        )
        desk.desk_payment_take(patient=parent, amount_cents=2500, attempt=attempt(), by=by)  # now on file
        assert sorted(LedgerEntry.objects.filter(source="stripe").values_list("amount_cents", flat=True)) == [
            -5000,
            -2500,
        ]

    def test_card_declined_when_charged_says_why_and_posts_nothing(self, stripe_local, family, front_desk):
        parent, child = family
        by = Actor.of(front_desk)
        setup = desk.desk_setup_intent(patient=child, attempt=attempt(), by=by)
        browser_enters_card(stripe_local.url, setup, number=DECLINES_ON_CHARGE)
        with pytest.raises(CardDeclined) as caught:
            desk.desk_payment_take(patient=child, amount_cents=5000, attempt=attempt(), setup_intent_id=setup.id, by=by)
        assert (
            caught.value.user_message
            == "The card was declined. Ask the patient to call their bank or use another card."
        )
        assert not LedgerEntry.objects.filter(source=EntrySource.STRIPE).exists()
        assert not StripePayment.objects.exists() and not Message.objects.exists()
        assert AuditEvent.objects.get(verb="stripe.desk_payment.declined").patient == child

    def test_setup_intent_of_another_household_is_refused(self, stripe_local, family, front_desk):
        parent, child = family
        stranger = PatientFactory()
        by = Actor.of(front_desk)
        setup = desk.desk_setup_intent(patient=stranger, attempt=attempt(), by=by)
        browser_enters_card(stripe_local.url, setup)
        with pytest.raises(ValidationError, match="wasn't set up for this patient"):
            desk.desk_payment_take(patient=child, amount_cents=5000, attempt=attempt(), setup_intent_id=setup.id, by=by)

    @pytest.mark.parametrize(("cents", "why"), [(0, "above zero"), (49, "less than"), (5_000_001, "check the amount")])
    def test_bad_amounts_are_refused_before_stripe_is_called(self, family, front_desk, cents, why):
        with pytest.raises(ValidationError, match=why):
            desk.desk_payment_take(patient=family[1], amount_cents=cents, attempt=attempt(), by=Actor.of(front_desk))
        assert not StripeCustomer.objects.exists()

    def test_stripe_unreachable_fails_cleanly_and_writes_nothing(self, family, front_desk):
        # settings point at a port where nothing listens (config/settings/test.py)
        audit_before = AuditEvent.objects.count()
        with pytest.raises(StripeUnavailable):
            desk.desk_payment_take(patient=family[1], amount_cents=5000, attempt=attempt(), by=Actor.of(front_desk))
        assert not StripeCustomer.objects.exists() and not StripePayment.objects.exists()
        assert not LedgerEntry.objects.filter(source=EntrySource.STRIPE).exists()
        assert AuditEvent.objects.count() == audit_before


class TestRefunds:
    @pytest.fixture
    def paid(self, stripe_local, family, front_desk):
        card_on_file(family[0])
        return desk.desk_payment_take(patient=family[1], amount_cents=10000, attempt=attempt(), by=Actor.of(front_desk))

    def test_manager_refunds_part_then_the_rest_each_posted_once_and_linked(self, paid, manager):
        payment = paid.payment
        by = Actor.of(manager)
        first = desk.desk_refund(
            payment=payment, amount_cents=2500, reason="Cleaning not done", attempt=attempt(), by=by
        )
        assert first.status == "succeeded" and first.ledger_entry.amount_cents == 2500
        assert first.ledger_entry.related_entry == payment.ledger_entry and first.ledger_entry.kind == EntryKind.REFUND
        assert desk.refundable_cents(payment) == 7500
        with pytest.raises(ValidationError, match=r"At most \$75.00"):
            desk.desk_refund(payment=payment, amount_cents=7501, reason="x", attempt=attempt(), by=by)
        desk.desk_refund(payment=payment, amount_cents=7500, reason="Moved away", attempt=attempt(), by=by)
        assert desk.refundable_cents(payment) == 0
        assert sorted(StripeRefund.objects.values_list("amount_cents", flat=True)) == [2500, 7500]
        assert AuditEvent.objects.filter(verb="stripe.refund.issued").count() == 2
        # Stripe's own refund webhooks (localstripe sends none; Stripe documents them) change nothing more.
        for refund in StripeRefund.objects.all():
            obj = p.refund(payment_intent=payment.stripe_id, amount=refund.amount_cents, refund_id=refund.stripe_id)
            from billing.stripe.handlers import handle_refund
            from billing.stripe.types import InboundEvent

            handle_refund(InboundEvent(id="evt_x", type="refund.created", created=None, object=obj))
        assert LedgerEntry.objects.filter(kind=EntryKind.REFUND).count() == 2

    def test_front_desk_cannot_refund(self, paid, front_desk):
        with pytest.raises(PermissionDenied):
            desk.desk_refund(
                payment=paid.payment, amount_cents=100, reason="x", attempt=attempt(), by=Actor.of(front_desk)
            )

    def test_charge_refunded_without_its_refund_list_fetches_the_refunds(self, paid, stripe_local, post_event, manager):
        payment = paid.payment
        refund = gateway.refund_create(
            payment_intent_id=payment.stripe_id, amount_cents=4000, metadata={}, idempotency_key="dashboard"
        )  # made in Stripe's dashboard, say
        charge = p.charge(
            customer=payment.customer.stripe_id, payment_intent=payment.stripe_id, amount=10000, amount_refunded=4000
        )
        assert post_event(p.event("charge.refunded", charge)).status_code == 200
        back = LedgerEntry.objects.get(kind=EntryKind.REFUND)
        assert back.external_ref == refund.id and back.amount_cents == 4000


class TestPages:
    def url(self, patient):
        return reverse("stripe:desk_payment", args=[patient.pk])

    def test_anonymous_is_sent_to_login(self, client, family):
        assert client.get(self.url(family[1])).status_code == 302

    def test_page_shows_the_household_balance_and_stripe_fields(self, front_desk_client, family, stripe_local):
        response = front_desk_client.get(self.url(family[1]))
        html = response.content.decode()
        assert response.status_code == 200 and "$150.00" in html and 'id="card-element"' in html
        assert stripe_local.js_url in html and 'value="150.00"' in html

    def test_without_stripe_keys_the_page_says_so(self, front_desk_client, family, settings):
        settings.STRIPE_SECRET_KEY = ""
        html = front_desk_client.get(self.url(family[1])).content.decode()
        assert "Card payments are not set up" in html and "card-element" not in html

    def test_card_on_file_payment_redirects_to_the_patient_with_a_message(
        self, front_desk_client, family, stripe_local
    ):
        card_on_file(family[0])
        data = {"amount": "150.00", "card": "on_file", "attempt": attempt()}
        response = front_desk_client.post(self.url(family[1]), data, follow=True)
        assert response.redirect_chain[-1][0] == reverse("console:patient_detail", args=[family[1].pk])
        assert "Payment of $150.00 received (Visa ····4242)" in response.content.decode()
        assert LedgerEntry.objects.get(source="stripe").amount_cents == -15000

    def test_declined_card_shows_the_reason_keeps_the_input_and_offers_a_fresh_attempt(
        self, front_desk_client, family, stripe_local
    ):
        card_on_file(family[0], card="pm_card_chargeCustomerFail")
        first = attempt()
        response = front_desk_client.post(self.url(family[1]), {"amount": "80.00", "card": "on_file", "attempt": first})
        html = response.content.decode()
        assert response.status_code == 422
        assert "The card was declined. Ask the patient to call their bank or use another card." in html
        assert 'value="80.00"' in html and first not in html
        assert not LedgerEntry.objects.filter(source="stripe").exists()

    def test_stripe_unreachable_keeps_the_same_attempt_so_a_retry_cannot_charge_twice(self, front_desk_client, family):
        first = attempt()
        response = front_desk_client.post(
            self.url(family[1]), {"amount": "80.00", "card": "new", "attempt": first, "setup_intent": "seti_1"}
        )
        html = response.content.decode()
        assert response.status_code == 422 and "Stripe could not be reached" in html and first in html

    def test_bad_amount_is_shown_next_to_the_field(self, front_desk_client, family, stripe_local):
        response = front_desk_client.post(
            self.url(family[1]), {"amount": "12.345", "card": "new", "attempt": attempt(), "setup_intent": "seti_x"}
        )
        assert response.status_code == 422 and "errorlist" in response.content.decode()

    def test_setup_endpoint_hands_a_client_secret_or_a_reason(self, front_desk_client, family, stripe_local, settings):
        url = reverse("stripe:desk_setup_intent", args=[family[1].pk])
        response = front_desk_client.post(url, {"attempt": attempt()})
        assert response.status_code == 200 and response.json()["client_secret"].startswith("seti_")
        settings.STRIPE_API_BASE = "http://127.0.0.1:9"
        response = front_desk_client.post(url, {"attempt": attempt()})
        assert response.status_code == 503 and "could not be reached" in response.json()["error"]

    def test_refund_page_is_for_managers(self, client, front_desk, manager, family, stripe_local):
        card_on_file(family[0])
        paid = desk.desk_payment_take(patient=family[1], amount_cents=3000, attempt=attempt(), by=Actor.of(front_desk))
        url = reverse("stripe:refund", args=[family[1].pk, paid.payment.pk])
        client.force_login(front_desk)
        assert client.get(url).status_code == 403
        client.force_login(manager)
        assert "$30.00" in client.get(url).content.decode()
        too_much = client.post(url, {"amount": "30.01", "reason": "x", "attempt": attempt()})
        assert too_much.status_code == 422 and "At most $30.00" in too_much.content.decode()
        done = client.post(url, {"amount": "10.00", "reason": "Goodwill", "attempt": attempt()})
        assert done.status_code == 302 and LedgerEntry.objects.get(kind="refund").amount_cents == 1000


def test_a_card_that_needs_3d_secure_is_finished_in_the_browser_then_posted(stripe_local, family, front_desk):
    parent, child = family
    by = Actor.of(front_desk)
    setup = desk.desk_setup_intent(patient=child, attempt=attempt(), by=by)
    assert browser_enters_card(stripe_local.url, setup, number="4000002500003155").json()["status"] == "requires_action"
    requests.post(
        f"{stripe_local.url}/v1/setup_intents/{setup.id}/confirm",  # the cardholder says yes
        json={"key": "pk_test_chairside", "client_secret": setup.client_secret},
        timeout=5,
    )
    outcome = desk.desk_payment_take(
        patient=child, amount_cents=7000, attempt=attempt(), setup_intent_id=setup.id, by=by
    )
    assert outcome.status == "requires_action" and outcome.client_secret.startswith(outcome.payment_intent_id)
    assert not LedgerEntry.objects.filter(source="stripe").exists()
    # What Stripe.js's confirmCardPayment does once the cardholder confirms at their bank:
    requests.post(
        f"{stripe_local.url}/v1/payment_intents/{outcome.payment_intent_id}/_authenticate?success=true",
        json={"key": "pk_test_chairside", "client_secret": outcome.client_secret},
        timeout=5,
    )
    finished = desk.desk_payment_finish(patient=child, payment_intent_id=outcome.payment_intent_id, by=by)
    assert finished.status == "succeeded" and LedgerEntry.objects.get(source="stripe").amount_cents == -7000
    with pytest.raises(ValidationError, match="isn't for this patient"):
        desk.desk_payment_finish(patient=PatientFactory(), payment_intent_id=outcome.payment_intent_id, by=by)
