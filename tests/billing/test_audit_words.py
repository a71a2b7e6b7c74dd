"""Audit verbs and actors in words, with a fallback for names nobody registered (issue 8)."""

import pytest
from django.urls import reverse

from billing.actors import Actor
from billing.audit_words import actor_words, verb_words
from billing.services.audit import audit_record
from tests.billing.factories import LedgerEntryFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_known_verbs_read_as_words_and_unknown_ones_still_do():
    assert verb_words("ledger.posted") == "Posted a ledger entry"
    assert verb_words("ledger.reversed") == "Reversed a ledger entry"
    assert verb_words("membership.plan_changed") == "Membership: plan changed"
    assert verb_words("ping") == "Ping"


def test_automated_actors_read_as_words_and_staff_as_their_username():
    assert actor_words(system="stripe.webhook", label="stripe.webhook") == "Stripe (webhook)"
    assert actor_words(system="", label="frontdesk") == "frontdesk"
    assert actor_words(system="something.new", label="something.new") == "something.new"


def test_audit_page_shows_words_not_verbs_and_local_times(manager_client, manager):
    patient = PatientFactory(first_name="Ana", last_name="Garcia")
    entry = LedgerEntryFactory(patient=patient)
    audit_record(
        actor=Actor.of(manager),
        verb="ledger.posted",
        target=entry,
        patient=patient,
        after={"posted_at": "2026-01-15T17:30:00+00:00", "amount_cents": 12500, "note": None},
    )
    page = manager_client.get(reverse("console:audit")).content.decode()
    assert "Posted a ledger entry" in page
    assert "<code>ledger.posted</code>" not in page
    # The practice is in America/New_York (EST in January): 17:30 UTC is 12:30 local, with the zone named.
    assert "2026-01-15 12:30 EST" in page and "17:30" not in page
    assert "12500" in page
