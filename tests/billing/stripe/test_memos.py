"""What staff read on the ledger for Stripe money: words, not Stripe ids. The id stays in external_ref."""

from __future__ import annotations

import re

import pytest

from billing.models import EntryKind, EntrySource, LedgerEntry, StaffTask

from . import payloads as p
from .conftest import StripeCustomerFactory

pytestmark = pytest.mark.django_db
STRIPE_ID = re.compile(r"\b(in|pi|ch|re|cus|py|dp|evt)_[A-Za-z0-9]+")


@pytest.fixture
def customer():
    return StripeCustomerFactory()


def _entry(kind=EntryKind.PAYMENT):
    return LedgerEntry.objects.get(source=EntrySource.STRIPE, kind=kind)


def _with_card(intent: dict, brand="visa", last4="4242") -> dict:
    intent["latest_charge"] = {
        "id": p.new_id("ch"),
        "object": "charge",
        "payment_method_details": {"type": "card", "card": {"brand": brand, "last4": last4}},
    }
    return intent


@pytest.mark.parametrize("shape", ["acacia", "basil"])
def test_paid_invoice_memo_says_what_was_paid_and_keeps_the_id_in_external_ref(post_event, customer, shape):
    obj = p.invoice(customer=customer.stripe_id, shape=shape)
    post_event(p.event("invoice.paid", obj))
    entry = _entry()
    assert entry.memo == "Automatic card payment: 1 × Membership (at $25.00 / month)"
    assert entry.external_ref == obj["id"] and not STRIPE_ID.search(entry.memo)


def test_card_payment_from_stripe_names_the_card_not_the_payment_intent(post_event, customer):
    intent = _with_card(p.payment_intent(customer=customer.stripe_id, amount=5000))
    post_event(p.event("payment_intent.succeeded", intent))
    entry = _entry()
    assert entry.memo == "Card payment, Visa •••• 4242" and entry.external_ref == intent["id"]


def test_card_payment_without_card_details_still_reads_as_words(post_event, customer):
    intent = p.payment_intent(customer=customer.stripe_id, amount=5000)
    post_event(p.event("payment_intent.succeeded", intent))
    assert _entry().memo == "Card payment"


def test_desk_payment_memo_names_the_desk_and_the_card(post_event, customer):
    intent = _with_card(
        p.payment_intent(customer=customer.stripe_id, metadata={"chairside_kind": "desk_payment"}),
        brand="mastercard",
        last4="4444",
    )
    post_event(p.event("payment_intent.succeeded", intent))
    assert _entry().memo == "Card payment at the desk, Mastercard •••• 4444"


def test_refund_memo_names_the_payment_by_its_date_and_a_failed_refund_reverses_in_words(post_event, customer):
    intent = p.payment_intent(customer=customer.stripe_id, amount=6000)
    post_event(p.event("payment_intent.succeeded", intent))
    paid_on = _entry().effective_date
    refund = p.refund(payment_intent=intent["id"], amount=2000)
    post_event(p.event("refund.created", refund))
    back = _entry(EntryKind.REFUND)
    assert back.memo == f"Refund of card payment of {paid_on.month}/{paid_on.day}/{paid_on.year}"
    assert back.external_ref == refund["id"]
    post_event(p.event("refund.failed", {**refund, "status": "failed"}))
    reversal = LedgerEntry.objects.get(kind=EntryKind.REVERSAL)
    assert reversal.memo.startswith("The card refund of ") and "failed at Stripe" in reversal.memo
    memos = list(LedgerEntry.objects.values_list("memo", flat=True))
    assert not [m for m in memos if STRIPE_ID.search(m)], memos


def test_declined_card_task_for_the_front_desk_has_no_stripe_id(post_event, customer):
    failure = {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Declined."}
    obj = p.invoice(customer=customer.stripe_id, status="open", failure=failure)
    post_event(p.event("invoice.payment_failed", obj))
    task = StaffTask.objects.get(kind="stripe.payment_failed")
    assert not STRIPE_ID.search(task.title + task.detail), task.detail
    assert task.context["stripe_id"] == obj["id"]  # kept for whoever needs to look it up


@pytest.mark.parametrize(
    "old, shown",
    [
        ("Stripe invoice in_1QxYz", "Automatic card payment (invoice)"),
        ("Stripe payment pi_3AbC", "Card payment"),
        ("Card payment at the desk (Visa ····4242)", "Card payment at the desk, Visa •••• 4242"),
        ("Refund of pi_3AbC: patient moved away", "Refund of card payment: patient moved away"),
        ("Refund of in_1QxYz", "Refund of card payment"),
        ("Stripe reports refund re_9 failed", "The card refund failed at Stripe: the money stayed with the practice"),
        ("Card payment, Visa •••• 4242", "Card payment, Visa •••• 4242"),
        ("Cash at the desk", "Cash at the desk"),
    ],
)
def test_old_memos_that_named_a_stripe_id_read_in_words(old, shown):
    from billing.stripe.memos import memo_for_display

    assert memo_for_display(old) == shown and not STRIPE_ID.search(memo_for_display(old))
