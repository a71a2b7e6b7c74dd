"""Issue 8 at the desk, against localstripe: a card payment is corrected by a refund only, whichever of a
ledger reversal and a refund is attempted first; a payment above the balance owed is confirmed before the
card is charged, and what is left over stays as credit on account."""

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from billing.actors import Actor
from billing.models import AuditEvent, EntryKind, EntrySource, LedgerEntry, StripePayment, StripeRefund
from billing.selectors.ledger import guarantor_balance
from billing.services.ledger import ledger_post, ledger_reverse
from billing.stripe import desk, gateway
from billing.stripe.customers import customer_ensure, customer_save_card
from tests.billing.factories import LedgerEntryFactory, PatientFactory

from .conftest import StripeCustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]
SYSTEM = Actor.system_component("tests")


def attempt() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def family():
    parent = PatientFactory(first_name="Dana", email="dana@example.com")
    child = PatientFactory(household=parent.household, first_name="Sam")
    LedgerEntryFactory(patient=child, amount_cents=30750)
    return parent, child


def card_on_file(guarantor):
    customer = customer_ensure(guarantor=guarantor, by=SYSTEM)
    pm = gateway.payment_method_attach(
        payment_method_id="pm_card_visa", customer_id=customer.stripe_id, idempotency_key=attempt()
    )
    gateway.customer_set_default_card(customer_id=customer.stripe_id, payment_method_id=pm.payment_method_id)
    return customer_save_card(customer=customer, card=pm, by=SYSTEM)


@pytest.fixture
def paid(stripe_local, family, front_desk):
    card_on_file(family[0])
    outcome = desk.desk_payment_take(patient=family[1], amount_cents=10000, attempt=attempt(), by=Actor.of(front_desk))
    return outcome.payment


class TestOneCorrectionPath:
    def test_reverse_attempted_first_is_refused_and_the_refund_then_corrects_once(self, paid, family, manager):
        with pytest.raises(ValidationError, match="Refund it from Card payments"):
            ledger_reverse(entry=paid.ledger_entry, by=Actor.of(manager), reason="patient asked for money back")
        desk.desk_refund(
            payment=paid, amount_cents=10000, reason="patient asked", attempt=attempt(), by=Actor.of(manager)
        )
        assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()
        assert guarantor_balance(guarantor=family[0]) == 30750  # charged, paid, refunded: owed again, once

    def test_refund_first_then_a_reversal_is_refused(self, paid, family, manager):
        desk.desk_refund(payment=paid, amount_cents=2500, reason="partial", attempt=attempt(), by=Actor.of(manager))
        with pytest.raises(ValidationError):
            ledger_reverse(entry=paid.ledger_entry, by=Actor.of(manager), reason="and reverse too")
        assert guarantor_balance(guarantor=family[0]) == 30750 - 10000 + 2500

    def test_a_reversed_payment_is_refused_a_refund_before_stripe_is_called(self, stripe_local, manager):
        """Rows written before the rule (a card payment's entry reversed on the ledger): the desk refuses
        the refund itself, before any call to Stripe (this payment intent doesn't exist there)."""
        patient = PatientFactory()
        LedgerEntryFactory(patient=patient, amount_cents=5000)
        entry = ledger_post(patient=patient, kind=EntryKind.PAYMENT, amount_cents=-5000, source="import", by=SYSTEM)
        ledger_reverse(entry=entry, by=Actor.of(manager), reason="posted by mistake")
        payment = StripePayment.objects.create(
            stripe_id="pi_legacy",
            kind="payment_intent",
            customer=StripeCustomerFactory(guarantor=patient),
            guarantor=patient,
            patient=patient,
            status="succeeded",
            amount_cents=5000,
            amount_paid_cents=5000,
            payment_intent_id="pi_legacy",
            ledger_entry=entry,
        )
        with pytest.raises(ValidationError, match="reversed on the ledger") as err:
            desk.desk_refund(payment=payment, amount_cents=5000, reason="x", attempt=attempt(), by=Actor.of(manager))
        assert "amount" in err.value.message_dict
        assert not StripeRefund.objects.exists()

    def test_the_refund_page_of_a_reversed_payment_explains_instead_of_offering_a_form(
        self, stripe_local, manager_client, manager
    ):
        patient = PatientFactory()
        LedgerEntryFactory(patient=patient, amount_cents=5000)
        entry = ledger_post(patient=patient, kind=EntryKind.PAYMENT, amount_cents=-5000, source="import", by=SYSTEM)
        ledger_reverse(entry=entry, by=Actor.of(manager), reason="posted by mistake")
        payment = StripePayment.objects.create(
            stripe_id="pi_legacy2",
            kind="payment_intent",
            customer=StripeCustomerFactory(guarantor=patient),
            guarantor=patient,
            patient=patient,
            status="succeeded",
            amount_paid_cents=5000,
            payment_intent_id="pi_legacy2",
            ledger_entry=entry,
        )
        html = manager_client.get(reverse("stripe:refund", args=[patient.pk, payment.pk])).content.decode()
        assert 'id="refund-refusal"' in html and "also be refunded" in html and "<textarea" not in html


class TestOverpaymentAtTheDesk:
    def test_an_overpayment_is_refused_before_the_card_is_charged(self, stripe_local, family, front_desk):
        parent, child = family
        card_on_file(parent)
        with pytest.raises(ValidationError) as err:
            desk.desk_payment_take(patient=child, amount_cents=300000, attempt=attempt(), by=Actor.of(front_desk))
        (error,) = err.value.error_dict["amount"]
        assert error.code == "overpayment" and "$307.50" in " ".join(error.messages)
        assert not StripePayment.objects.exists()
        assert list(gateway.list_payment_intents(timezone.now() - timedelta(hours=1))) == []  # Stripe never asked

    def test_confirmed_the_card_is_charged_and_the_rest_is_credit(self, stripe_local, family, front_desk):
        parent, child = family
        card_on_file(parent)
        outcome = desk.desk_payment_take(
            patient=child, amount_cents=300000, attempt=attempt(), by=Actor.of(front_desk), confirm_overpayment=True
        )
        assert outcome.status == "succeeded"
        assert guarantor_balance(guarantor=parent) == -269250
        assert AuditEvent.objects.filter(verb="stripe.desk_payment.overpayment_confirmed").count() == 1
        assert LedgerEntry.objects.get(source=EntrySource.STRIPE).amount_cents == -300000

    def test_the_page_warns_keeps_the_input_then_charges_once_confirmed(self, front_desk_client, family, stripe_local):
        parent, child = family
        card_on_file(parent)
        url = reverse("stripe:desk_payment", args=[child.pk])
        data = {"amount": "3000.00", "card": "on_file", "attempt": attempt()}
        first = front_desk_client.post(url, data)
        html = first.content.decode()
        assert first.status_code == 422 and 'id="overpayment-warning"' in html
        assert "Charge anyway, leave $2,692.50 as credit on account" in html and 'value="3000.00"' in html
        assert not StripePayment.objects.exists()
        done = front_desk_client.post(url, {**data, "confirm_overpayment": "on"}, follow=True)
        assert "Payment of $3,000.00 received" in done.content.decode()
        assert "Credit on account $2,692.50" in done.content.decode()
        assert guarantor_balance(guarantor=parent) == -269250
