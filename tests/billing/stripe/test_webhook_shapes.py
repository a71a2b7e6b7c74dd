"""Signed deliveries whose shape we can't process: a clear 400 naming the field, nothing stored, never a
500. Well-formed events of types nobody handles are still stored and ignored."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from billing.models import EntrySource, EventStatus, LedgerEntry, StripeEvent, StripePayment

from . import payloads as p
from .conftest import StripeCustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return StripeCustomerFactory()


def _nothing_stored():
    return not StripeEvent.objects.exists() and not LedgerEntry.objects.filter(source=EntrySource.STRIPE).exists()


def _raw_event(**overrides) -> bytes:
    evt = p.event("invoice.paid", {"id": "in_x", "object": "invoice"})
    evt.update(overrides)
    return json.dumps(evt).encode()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"data": []}, "data"),
        ({"data": ["in_1"]}, "data"),
        ({"data": "invoice"}, "data"),
        ({"data": 7}, "data"),
        ({"data": None}, "data"),
        ({"data": {"object": []}}, "data.object"),
        ({"data": {"object": "in_1"}}, "data.object"),
        ({"data": {}}, "data.object"),
        ({"id": None}, "id"),
        ({"id": 12}, "id"),
        ({"id": ""}, "id"),
        ({"id": "evt\u0000nul"}, "id"),
        ({"id": "e" * 256}, "id"),
        ({"type": None}, "type"),
        ({"type": ["invoice.paid"]}, "type"),
        ({"type": "invoice paid"}, "type"),
        ({"created": 10**30}, "created"),
        ({"created": "yesterday"}, "created"),
        ({"livemode": "no"}, "livemode"),
        ({"api_version": {"v": 1}}, "api_version"),
    ],
)
def test_signed_event_with_a_broken_envelope_is_a_400_naming_the_field(post_event, overrides, field):
    response = post_event(_raw_event(**overrides))
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{field}:")
    assert _nothing_stored()


def test_a_json_array_body_is_refused(post_event):
    response = post_event(b"[1, 2, 3]")
    assert response.status_code == 400 and _nothing_stored()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"amount_paid": 2**63}, "data.object.amount_paid_cents"),
        ({"amount_paid": 10**30}, "data.object.amount_paid_cents"),
        ({"amount_paid": -2500}, "data.object.amount_paid_cents"),
        ({"amount_paid": "lots"}, "data.object"),
        ({"amount_due": [1]}, "data.object"),
        ({"created": 10**20}, "data.object"),
        ({"status_transitions": ["paid"]}, "data.object"),
        ({"lines": "none"}, "data.object"),
        ({"metadata": ["a"]}, "data.object"),
        ({"status": "paid" * 20}, "data.object.status"),
        ({"currency": "dollars"}, "data.object.currency"),
        ({"customer": ["cus_1"]}, "data.object.customer"),
        ({"id": {"nested": 1}}, "data.object.id"),
        ({"id": None}, "data.object.id"),
        ({"metadata": {"chairside_patient_id": "1\u00002"}}, "data.object.metadata.chairside_patient_id"),
        ({"attempt_count": 10**12}, "data.object.attempt_count"),
    ],
)
def test_invoice_we_cannot_read_is_a_400_and_nothing_is_stored(post_event, customer, change, field):
    obj = {**p.invoice(customer=customer.stripe_id), **change}
    response = post_event(p.event("invoice.paid", obj))
    assert response.status_code == 400, response.content
    assert response.json()["error"].startswith(f"{field}"), response.json()
    assert _nothing_stored() and not StripePayment.objects.exists()


@pytest.mark.parametrize(
    "event_type, obj",
    [
        ("payment_intent.succeeded", {"id": "pi_1", "amount": 10**19, "status": "succeeded", "customer": "cus_x"}),
        ("payment_intent.succeeded", {"id": "pi_1", "charges": "x"}),
        ("refund.created", {"id": "re_1", "amount": -1, "payment_intent": "pi_1"}),
        ("refund.created", {"id": "re_1", "payment_intent": {"id": ["pi_1"]}}),
        ("charge.refunded", {"id": "ch_1", "refunds": {"data": [{"amount": 5}]}}),
        ("charge.dispute.created", {"id": "dp_1", "evidence_details": "soon"}),
    ],
)
def test_other_core_objects_we_cannot_read_are_refused(post_event, event_type, obj):
    response = post_event(p.event(event_type, obj))
    assert response.status_code == 400 and response.json()["error"].startswith("data.object")
    assert _nothing_stored()


def test_well_formed_event_of_a_type_nobody_handles_is_still_stored_and_ignored(post_event):
    response = post_event(p.event("balance.available", {"object": "balance", "available": [{"amount": 10**30}]}))
    assert response.status_code == 200
    assert StripeEvent.objects.get().status == EventStatus.IGNORED


def test_patient_id_in_metadata_with_unicode_digits_posts_to_the_guarantor(post_event, customer):
    obj = p.invoice(customer=customer.stripe_id)
    obj["metadata"] = {"chairside_patient_id": "²"}  # "²".isdigit() is True; int("²") raises
    assert post_event(p.event("invoice.paid", obj)).status_code == 200
    assert StripeEvent.objects.get().status == EventStatus.PROCESSED
    assert LedgerEntry.objects.get(source=EntrySource.STRIPE).patient_id == customer.guarantor_id


# --- Property: whatever the object looks like, a signed delivery is a 200 or a 400, never a 500 ----------------
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    [
        "id",
        "customer",
        "status",
        "amount",
        "amount_paid",
        "amount_due",
        "amount_received",
        "currency",
        "created",
        "metadata",
        "lines",
        "payment_intent",
        "charge",
        "latest_charge",
        "charges",
        "refunds",
        "status_transitions",
        "parent",
        "payments",
        "invoice",
        "payment_method",
        "last_payment_error",
        "evidence_details",
    ]
)
TYPES = st.sampled_from(
    [
        "invoice.paid",
        "invoice.payment_failed",
        "payment_intent.succeeded",
        "refund.created",
        "charge.refunded",
        "charge.dispute.created",
        "customer.subscription.updated",
    ]
)
_ids = itertools.count()


def _valid_objects(customer: str) -> dict[str, dict]:
    inv = p.invoice(customer=customer)
    return {
        "invoice.paid": inv,
        "invoice.payment_failed": p.invoice(customer=customer, status="open", shape="basil"),
        "payment_intent.succeeded": p.payment_intent(customer=customer),
        "refund.created": p.refund(payment_intent=inv["payment_intent"], amount=100),
        "charge.refunded": p.charge(customer=customer, payment_intent=inv["payment_intent"], amount=100),
        "charge.dispute.created": p.dispute(charge="ch_1", payment_intent=inv["payment_intent"], amount=100),
        "customer.subscription.updated": p.subscription(customer=customer),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event_type=TYPES, how=st.sampled_from(["data", "object", "fields", "valid-with-odd-fields"]), draw=st.data())
def test_no_signed_delivery_reaches_a_500_and_a_refusal_stores_nothing(post_event, customer, event_type, how, draw):
    if how == "data":  # data itself: a list, a string, a number …
        data = draw.draw(JSON)
    elif how == "object":  # data.object of any shape
        data = {"object": draw.draw(JSON)}
    elif how == "fields":  # an object made of the fields we read, each of any shape
        data = {"object": draw.draw(st.dictionaries(FIELDS, JSON, max_size=5))}
    else:  # a real object with some of its fields replaced by anything
        base = _valid_objects(customer.stripe_id)[event_type]
        data = {"object": {**base, **draw.draw(st.dictionaries(FIELDS.filter(lambda f: f != "id"), JSON, max_size=3))}}
    before = StripeEvent.objects.count()
    evt = {"id": f"evt_prop{next(_ids)}", "object": "event", "type": event_type, "created": p.now(), "data": data}
    response = post_event(evt)
    assert response.status_code in (200, 400), response.content
    note(f"{how}: {response.status_code}")
    stored = StripeEvent.objects.count() - before
    if response.status_code == 400:
        assert stored == 0 and response.json()["error"]
    else:
        assert stored == 1
        stored_event = StripeEvent.objects.get(stripe_id=evt["id"])
        # Stored means readable: the core's handlers never fail on what the door let in.
        assert stored_event.status != EventStatus.FAILED, stored_event.last_error
