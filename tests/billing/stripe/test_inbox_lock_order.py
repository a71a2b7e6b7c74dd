"""Two queue workers draining the inbox at once take their payment rows in one order (by Stripe object), so
they never deadlock, however the events of one invoice are split between their batches. Real concurrent
PostgreSQL connections (one thread per worker)."""

from __future__ import annotations

import time

import pytest

from billing.models import EntryKind, EntrySource, EventStatus, LedgerEntry, StripeEvent
from billing.registry import register_stripe_handler, unregister_stripe_handler
from billing.stripe.inbox import inbox_drain
from tests.concurrency import run_at_once
from tests.conftest import postgres_only

from . import payloads as p
from .conftest import StripeCustomerFactory
from .test_inbox import store

BATCH = 20


@pytest.fixture
def unhurried_invoices():
    """A feature handler that takes a moment per invoice event, so the two workers' batches overlap."""
    register_stripe_handler("tests.unhurried", ["invoice.*"], lambda e: time.sleep(0.01))
    yield
    unregister_stripe_handler("tests.unhurried")


def _crossed_pairs(groups: int) -> list[str]:
    """Store, per group, two batches' worth of events that cross: the first batch has ``invoice.paid`` for
    invoices A and ``invoice.payment_succeeded`` for invoices B; the second the other event of each, B's
    first. Processed in the order they were stored, worker 1 locks the A's then wants the B's while worker
    2 holds the B's and wants the A's: a deadlock every time. Half the invoices are in the new (basil) shape."""
    half = BATCH // 2
    invoice_ids = []
    for g in range(groups):
        customers = [StripeCustomerFactory() for _ in range(BATCH)]
        invoices = [
            p.invoice(customer=c.stripe_id, amount=1000 + i, shape="basil" if i % 2 else "acacia")
            for i, c in enumerate(customers)
        ]
        # Ids that sort against their storing order, so "by id" and "as stored" disagree too.
        for i, inv in enumerate(invoices):
            inv["id"] = f"in_g{g}x{BATCH - i:03d}"
        a, b = invoices[:half], invoices[half:]
        for kind, group in [("invoice.paid", a), ("invoice.payment_succeeded", b)]:
            for inv in group:
                store(p.event(kind, inv))
        for kind, group in [("invoice.paid", b), ("invoice.payment_succeeded", a)]:
            for inv in reversed(group):
                store(p.event(kind, inv))
        invoice_ids += [inv["id"] for inv in invoices]
    return invoice_ids


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_draining_crossed_invoice_pairs_never_deadlock_and_post_each_invoice_once(unhurried_invoices):
    invoice_ids = _crossed_pairs(groups=3)
    results = run_at_once([lambda: inbox_drain(batch_size=BATCH), lambda: inbox_drain(batch_size=BATCH)])
    assert not [r for r in results if isinstance(r, str)], results  # no worker raised
    assert sum(r.events for r in results) == 2 * len(invoice_ids)
    assert min(r.events for r in results) > 0  # both workers really drained
    failed = list(StripeEvent.objects.exclude(status=EventStatus.PROCESSED).values_list("type", "last_error"))
    assert failed == []  # before the fix: "deadlock detected" on billing_stripepayment
    assert set(StripeEvent.objects.values_list("attempts", flat=True)) == {1}  # nothing was retried
    posted = LedgerEntry.objects.filter(source=EntrySource.STRIPE, kind=EntryKind.PAYMENT)
    assert sorted(posted.values_list("external_ref", flat=True)) == sorted(invoice_ids)  # each exactly once
