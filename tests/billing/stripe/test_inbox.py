"""The inbox worker: retries with backoff, waiting for another object, refunds, disputes, replays, and
the concurrency claims (two deliveries at once, two workers on one event, webhook and sync racing on one
invoice, a worker killed mid-batch) with real concurrent PostgreSQL connections."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.actors import Actor
from billing.clock import practice_today
from billing.models import (
    AuditEvent,
    EntryKind,
    EntrySource,
    EventSource,
    EventStatus,
    LedgerEntry,
    StaffTask,
    StripeDispute,
    StripeEvent,
    StripePayment,
    StripeRefund,
)
from billing.registry import register_stripe_handler, unregister_stripe_handler
from billing.stripe import gateway
from billing.stripe.inbox import event_process, inbox_drain
from billing.stripe.payments import intent_apply, invoice_apply, refund_apply
from billing.stripe.reconcile import StripeSide, reconcile_compare
from billing.stripe.sync import sync_record
from tests.conftest import postgres_only

from . import payloads as p
from .conftest import StripeCustomerFactory

ROOT = Path(__file__).resolve().parents[3]


def stripe_entries():
    return LedgerEntry.objects.filter(source=EntrySource.STRIPE)


def store(evt: dict, source: str = EventSource.WEBHOOK) -> StripeEvent:
    """An event as the webhook view stores it (verified, not yet processed)."""
    obj = evt["data"]["object"]
    return StripeEvent.objects.create(
        stripe_id=evt["id"],
        type=evt["type"],
        source=source,
        object_id=obj.get("id") or "",
        customer_id=obj.get("customer") or "",
        payload=p.body(evt).decode(),
    )


@pytest.fixture
def slow_invoices():
    """A feature handler that takes its time, so concurrent workers really overlap."""
    register_stripe_handler("tests.slow", ["invoice.*"], lambda e: time.sleep(0.3))
    yield
    unregister_stripe_handler("tests.slow")


@pytest.mark.django_db
class TestRetriesAndWaiting:
    def test_failed_event_is_retried_with_backoff_and_a_manager_hears_when_it_gives_up(self, settings):
        settings.STRIPE_EVENT_MAX_ATTEMPTS = 3
        calls = []

        def flaky(event):
            calls.append(event.id)
            raise ValueError("plan not found")

        register_stripe_handler("tests.flaky", ["customer.subscription.updated"], flaky)
        try:
            event = store(p.event("customer.subscription.updated", p.subscription(customer="cus_1")))
            with time_machine.travel(timezone.now(), tick=False) as clock:
                inbox_drain()
                event.refresh_from_db()
                assert event.status == EventStatus.FAILED and event.attempts == 1
                assert event.next_attempt_at == timezone.now() + timedelta(seconds=60)
                inbox_drain()  # not due yet
                assert len(calls) == 1
                clock.shift(timedelta(seconds=61))
                inbox_drain()
                event.refresh_from_db()
                assert event.attempts == 2 and event.next_attempt_at == timezone.now() + timedelta(seconds=120)
                clock.shift(timedelta(seconds=121))
                inbox_drain()
        finally:
            unregister_stripe_handler("tests.flaky")
        event.refresh_from_db()
        assert len(calls) == 3 and event.status == EventStatus.FAILED and event.next_attempt_at is None
        task = StaffTask.objects.get(kind="stripe.event_failed")
        assert task.role == "manager" and "plan not found" in task.detail

    def test_refund_before_its_payment_waits_and_posts_linked_once_the_payment_posts(self):
        customer = StripeCustomerFactory()
        pi = p.payment_intent(customer=customer.stripe_id, amount=6000)
        refund = store(p.event("refund.created", p.refund(payment_intent=pi["id"], amount=2000)))
        inbox_drain()
        refund.refresh_from_db()
        assert refund.status == EventStatus.WAITING and refund.waiting_for == pi["id"]
        assert not stripe_entries().exists()
        store(p.event("payment_intent.succeeded", pi))
        inbox_drain()  # posts the payment, which wakes the refund, which the same drain then posts
        refund.refresh_from_db()
        assert refund.status == EventStatus.PROCESSED
        payment = stripe_entries().get(kind=EntryKind.PAYMENT)
        back = stripe_entries().get(kind=EntryKind.REFUND)
        assert payment.amount_cents == -6000 and back.amount_cents == 2000 and back.related_entry == payment

    def test_refund_stripe_later_reports_failed_is_reversed_once(self):
        customer = StripeCustomerFactory()
        pi = p.payment_intent(customer=customer.stripe_id, amount=6000)
        refund = p.refund(payment_intent=pi["id"], amount=6000)
        for evt in [
            p.event("payment_intent.succeeded", pi),
            p.event("refund.created", refund),
            p.event("refund.failed", {**refund, "status": "failed"}),
            p.event("refund.updated", {**refund, "status": "failed"}),
            p.event("refund.updated", refund),  # a stale "succeeded" snapshot after the failure
        ]:
            store(evt)
        inbox_drain()
        kinds = sorted(stripe_entries().values_list("kind", flat=True))
        reversal = LedgerEntry.objects.get(kind=EntryKind.REVERSAL)
        # The reversal is Stripe's own correction (source "stripe"): the only reversal of Stripe money the
        # ledger accepts (billing/db/corrections.py).
        assert kinds == ["payment", "refund", "reversal"] and reversal.reverses.kind == EntryKind.REFUND
        assert StripeRefund.objects.get().status == "failed"

    def test_charge_refunded_listing_its_refunds_posts_them(self):
        customer = StripeCustomerFactory()
        pi = p.payment_intent(customer=customer.stripe_id, amount=5000)
        refunds = [p.refund(payment_intent=pi["id"], amount=1000), p.refund(payment_intent=pi["id"], amount=500)]
        store(p.event("payment_intent.succeeded", pi))
        store(
            p.event(
                "charge.refunded",
                p.charge(
                    customer=customer.stripe_id,
                    payment_intent=pi["id"],
                    amount=5000,
                    amount_refunded=1500,
                    refunds=refunds,
                ),
            )
        )
        inbox_drain()
        assert sorted(stripe_entries().filter(kind="refund").values_list("amount_cents", flat=True)) == [500, 1000]

    def test_dispute_opens_one_urgent_manager_task_and_audits_each_change(self):
        customer = StripeCustomerFactory()
        pi = p.payment_intent(customer=customer.stripe_id, amount=9900)
        dispute = p.dispute(charge=pi["latest_charge"], payment_intent=pi["id"], amount=9900)
        store(p.event("payment_intent.succeeded", pi))
        store(p.event("charge.dispute.created", dispute))
        store(p.event("charge.dispute.created", dispute, event_id=p.new_id("evt")))  # Stripe's retry, new id
        store(p.event("charge.dispute.closed", {**dispute, "status": "lost"}))
        inbox_drain()
        task = StaffTask.objects.get(kind="stripe.dispute")
        assert task.role == "manager" and task.priority == 40 and task.patient == customer.guarantor
        assert StripeDispute.objects.get().status == "lost"
        assert list(AuditEvent.objects.filter(verb__startswith="stripe.dispute").values_list("verb", flat=True)) == [
            "stripe.dispute.updated",
            "stripe.dispute.opened",
        ]
        assert stripe_entries().count() == 1  # a dispute posts nothing by itself

    def test_paid_after_a_declined_attempt_posts_and_closes_the_declined_card_task(self):
        customer = StripeCustomerFactory()
        inv = p.invoice(
            customer=customer.stripe_id,
            status="open",
            attempt_count=1,
            failure={"code": "card_declined", "decline_code": "insufficient_funds", "message": "no"},
        )
        store(p.event("invoice.payment_failed", inv))
        inbox_drain()
        task = StaffTask.objects.get(kind="stripe.payment_failed")
        assert "insufficient funds" in task.detail
        paid = p.invoice(customer=customer.stripe_id, invoice_id=inv["id"], status="paid", attempt_count=2)
        store(p.event("invoice.paid", paid))
        inbox_drain()
        task.refresh_from_db()
        assert task.status == "resolved" and stripe_entries().count() == 1

    def test_replay_command_runs_a_processed_event_again_without_posting_twice(self, capsys):
        customer = StripeCustomerFactory()
        evt = p.event("invoice.paid", p.invoice(customer=customer.stripe_id))
        store(evt)
        inbox_drain()
        call_command("replay_stripe_events", evt["id"])
        assert f"{evt['id']}: processed" in capsys.readouterr().out
        assert stripe_entries().count() == 1 and StripeEvent.objects.get().attempts == 2
        assert AuditEvent.objects.filter(verb="stripe.event.replayed").count() == 1

    def test_replay_command_names_events_it_doesnt_have(self):
        with pytest.raises(Exception, match="not found"):
            call_command("replay_stripe_events", "evt_nope")


@pytest.mark.django_db
def test_drain_costs_the_same_queries_per_event_at_any_size():
    """A batch job: the queries grow by a fixed amount per event (and none per batch size)."""

    def measure(n: int) -> int:
        for _ in range(n):
            customer = StripeCustomerFactory()
            store(p.event("invoice.paid", p.invoice(customer=customer.stripe_id)))
        with CaptureQueriesContext(connection) as ctx:
            assert inbox_drain().processed == n
        return len(ctx.captured_queries)

    measure(1)  # warm caches (content types)
    q2, q4, q8 = measure(2), measure(4), measure(8)
    per_event = (q4 - q2) // 2
    assert q8 - q4 == 4 * per_event and q4 - q2 == 2 * per_event
    assert per_event <= 16


@pytest.mark.django_db
def test_sync_batch_makes_the_same_queries_for_3_and_30_objects(django_assert_num_queries):
    def states(n):
        customers = [StripeCustomerFactory() for _ in range(n)]
        invoices = [gateway.parse_invoice(p.invoice(customer=c.stripe_id)) for c in customers]
        intents = [gateway.parse_payment_intent(p.payment_intent(customer=c.stripe_id)) for c in customers]
        refunds = [gateway.parse_refund(p.refund(payment_intent=i.id, amount=100)) for i in intents]
        return invoices, intents, refunds

    by = Actor.system_component("tests")
    small, large = states(3), states(30)
    with django_assert_num_queries(9):
        result = sync_record(invoices=small[0], intents=small[1], refunds=small[2], by=by)
    assert result.queued == 6  # the refunds' payments aren't ours yet
    with django_assert_num_queries(9):
        assert sync_record(invoices=large[0], intents=large[1], refunds=large[2], by=by).queued == 60
    with django_assert_num_queries(8):  # the same states again, not processed yet: their events exist
        assert sync_record(invoices=large[0], intents=large[1], refunds=large[2], by=by).queued == 0
    inbox_drain()
    with django_assert_num_queries(9):  # the payments are ours now, so their refunds are too
        assert sync_record(invoices=large[0], intents=large[1], refunds=large[2], by=by).queued == 30
    inbox_drain()
    with django_assert_num_queries(4):  # all processed: the mirror knows every state, nothing to queue
        assert sync_record(invoices=large[0], intents=large[1], refunds=large[2], by=by).queued == 0
    assert stripe_entries().filter(kind="refund").count() == 30


# --- Real concurrency (PostgreSQL) ------------------------------------------------------------------------------
def run_threads(*targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_copies_of_an_event_arriving_at_the_same_moment_are_stored_and_posted_once(slow_invoices, settings):
    settings.STRIPE_PROCESS_INLINE = True
    customer = StripeCustomerFactory()
    raw, header = p.signed(p.event("invoice.paid", p.invoice(customer=customer.stripe_id)))
    barrier = threading.Barrier(2)
    answers = []

    def deliver():
        barrier.wait()
        response = Client().post("/stripe/webhook/", raw, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
        answers.append(response.json()["duplicate"])

    run_threads(deliver, deliver)
    assert sorted(answers) == [False, True]
    assert StripeEvent.objects.get().status == EventStatus.PROCESSED
    assert stripe_entries().count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_event_process_it_once(slow_invoices):
    customer = StripeCustomerFactory()
    event = store(p.event("invoice.paid", p.invoice(customer=customer.stripe_id)))
    outcomes = []
    run_threads(lambda: outcomes.append(event_process(event.pk)), lambda: outcomes.append(event_process(event.pk)))
    event.refresh_from_db()
    assert outcomes == ["processed", "processed"] and event.attempts == 1
    assert stripe_entries().count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_webhook_and_sync_racing_on_one_invoice_post_one_entry(slow_invoices):
    customer = StripeCustomerFactory()
    invoice = p.invoice(customer=customer.stripe_id, amount=4500)
    webhook = store(p.event("invoice.payment_succeeded", invoice))
    sync_record(invoices=[gateway.parse_invoice(invoice)], by=Actor.system_component("stripe.sync"))
    synced = StripeEvent.objects.get(source=EventSource.SYNC)
    started = []

    def process(event):
        def run():
            started.append(time.monotonic())
            event_process(event.pk)

        return run

    run_threads(process(webhook), process(synced))
    assert abs(started[0] - started[1]) < 0.25  # they really ran side by side
    assert StripeEvent.objects.filter(status=EventStatus.PROCESSED).count() == 2
    assert stripe_entries().get().amount_cents == -4500
    assert StripePayment.objects.get().status == "paid"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_take_each_event_exactly_once():
    events = [store(p.event("invoice.paid", p.invoice(customer=StripeCustomerFactory().stripe_id))) for _ in range(40)]
    run_threads(lambda: inbox_drain(batch_size=5), lambda: inbox_drain(batch_size=5))
    assert set(StripeEvent.objects.values_list("status", "attempts")) == {(EventStatus.PROCESSED, 1)}
    assert stripe_entries().count() == len(events)


KILLABLE_WORKER = """
import sys, time, django
django.setup()
from billing.registry import register_stripe_handler
from billing.stripe.inbox import inbox_drain
register_stripe_handler("tests.slow", ["invoice.*"], lambda e: time.sleep(0.1))
print("draining", flush=True)
inbox_drain(batch_size=4, time_budget=600)
"""


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_leaves_every_event_to_be_processed_exactly_once_after_restart():
    total = 24
    for _ in range(total):
        store(p.event("invoice.paid", p.invoice(customer=StripeCustomerFactory().stripe_id)))
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    worker = subprocess.Popen([sys.executable, "-c", KILLABLE_WORKER], cwd=ROOT, env=env, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while StripeEvent.objects.filter(status=EventStatus.PROCESSED).count() < 8:
            assert worker.poll() is None and time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)  # mid-batch: it is always inside one
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    done = StripeEvent.objects.filter(status=EventStatus.PROCESSED).count()
    assert 8 <= done < total
    assert stripe_entries().count() == done  # a killed batch left nothing half-written
    assert StripeEvent.objects.filter(status=EventStatus.RECEIVED, attempts=0).count() == total - done
    inbox_drain()  # the restarted worker
    assert set(StripeEvent.objects.values_list("status", "attempts")) == {(EventStatus.PROCESSED, 1)}
    assert stripe_entries().count() == total


@pytest.mark.django_db
def test_reconciliation_compare_makes_the_same_queries_for_3_and_30_payments(django_assert_num_queries):
    by = Actor.system_component("tests")

    def paid_and_posted(n):
        invoices, intents, refunds = [], [], []
        for _ in range(n):
            customer = StripeCustomerFactory()
            inv = gateway.parse_invoice(p.invoice(customer=customer.stripe_id))
            pi = gateway.parse_payment_intent(p.payment_intent(customer=customer.stripe_id))
            invoice_apply(inv, by=by)
            intent_apply(pi, by=by)
            refund = gateway.parse_refund(p.refund(payment_intent=pi.id, amount=500))
            refund_apply(refund, by=by)
            invoices.append(inv), intents.append(pi), refunds.append(refund)
        return invoices, intents, refunds

    today = practice_today()
    small = StripeSide(*paid_and_posted(3), looked_up={})
    with CaptureQueriesContext(connection) as ctx:
        found, counts = reconcile_compare(since=today, until=today, side=small)
    assert found == [] and counts["stripe_payments"] == 6 and counts["stripe_refunds"] == 3
    more = paid_and_posted(30)
    large = StripeSide(small.invoices + more[0], small.intents + more[1], small.refunds + more[2], looked_up={})
    with django_assert_num_queries(len(ctx)):
        found, counts = reconcile_compare(since=today, until=today, side=large)
    assert found == [] and counts["stripe_payments"] == 66 and counts["ledger_entries"] == 99
