"""End to end through the real SDK against localstripe: signed webhooks, the state sync catching the
decline localstripe never announces, the renewal clock and the reconciliation."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.actors import Actor
from billing.clock import practice_today
from billing.models import (
    AuditEvent,
    EntrySource,
    EventSource,
    EventStatus,
    LedgerEntry,
    ReconciliationStatus,
    StaffTask,
    StripeEvent,
    StripePayment,
)
from billing.stripe import gateway
from billing.stripe.advance import stripe_advance
from billing.stripe.customers import customer_ensure
from billing.stripe.inbox import inbox_drain
from billing.stripe.reconcile import reconcile
from billing.stripe.sync import sync_recent
from tests.billing.factories import LedgerEntryFactory, PatientFactory

from .conftest import wait_for

pytestmark = pytest.mark.stripe
SYSTEM = Actor.system_component("tests")


def subscribe(*, card: str = "pm_card_visa", amount: int = 2500):
    """A guarantor with a Stripe customer, a card on file and a monthly subscription, all through the SDK."""
    guarantor = PatientFactory()
    customer = customer_ensure(guarantor=guarantor, by=SYSTEM)
    pm = gateway.payment_method_attach(payment_method_id=card, customer_id=customer.stripe_id, idempotency_key="t")
    gateway.customer_set_default_card(customer_id=customer.stripe_id, payment_method_id=pm.payment_method_id)
    plan = gateway.plan_ensure(
        plan_id=f"basic-{amount}", amount_cents=amount, interval="month", name="Basic", code="MEM-B"
    )
    sub = gateway.subscription_create(
        customer_id=customer.stripe_id, plan_id=plan, quantity=1, metadata={}, idempotency_key=f"sub-{guarantor.pk}"
    )
    return guarantor, customer, sub


def stripe_entries():
    return LedgerEntry.objects.filter(source=EntrySource.STRIPE)


def sync_and_drain():
    result = sync_recent(since=timezone.now() - timedelta(hours=1), by=Actor.system_component("stripe.sync"))
    inbox_drain()
    return result


@pytest.mark.django_db(transaction=True)
def test_subscription_paid_with_4242_posts_one_payment_from_the_signed_webhook(stripe_webhooks):
    guarantor, customer, sub = subscribe()
    assert sub.status == "active" and sub.current_period_end is not None
    entry = wait_for(lambda: stripe_entries().first(), what="the invoice.payment_succeeded webhook")
    assert entry.amount_cents == -2500 and entry.code == "MEM-B" and entry.guarantor_id == guarantor.pk
    events = StripeEvent.objects.filter(type="invoice.payment_succeeded")
    assert {(e.source, e.status) for e in events} == {(EventSource.WEBHOOK, EventStatus.PROCESSED)}  # signed, verified
    wait_for(lambda: StripeEvent.objects.filter(type="payment_intent.succeeded").exists(), what="the PI's webhook")
    assert stripe_entries().count() == 1  # the invoice's payment intent doesn't post a second time
    assert sync_and_drain().queued == 0  # the sync finds nothing the webhooks missed


@pytest.mark.django_db
def test_declined_renewal_card_leaves_the_invoice_open_and_the_sync_runs_the_failure_handler_once(stripe_local):
    guarantor, customer, sub = subscribe(card="pm_card_chargeCustomerFail")
    assert sub.status == "incomplete"
    first = sync_and_drain()
    assert first.queued == 1
    row = StripePayment.objects.get(kind="invoice")
    assert row.status == "open" and row.failure_handled_attempt == 1 and row.failure_code == "card_declined"
    task = StaffTask.objects.get(kind="stripe.payment_failed")
    assert task.patient == guarantor and "declined" in task.detail
    assert AuditEvent.objects.filter(verb="stripe.payment_failed").count() == 1
    assert sync_and_drain().queued == 0  # the next sync knows this state already
    assert StaffTask.objects.filter(kind="stripe.payment_failed").count() == 1
    assert not stripe_entries().exists()


@pytest.mark.django_db
def test_stripe_advance_bills_the_next_month_and_the_sync_posts_it(stripe_local):
    subscribe(amount=3100)
    sync_and_drain()
    assert stripe_entries().count() == 1
    assert stripe_advance(days=10) == []  # less than a period: nothing due
    [renewal] = stripe_advance(days=30)
    assert renewal.status == "paid" and renewal.amount_cents == 3100
    sync_and_drain()
    assert sorted(stripe_entries().values_list("amount_cents", flat=True)) == [-3100, -3100]
    assert len(set(stripe_entries().values_list("external_ref", flat=True))) == 2


@pytest.mark.parametrize(
    ("base", "key", "why"),
    [("https://api.stripe.com", "sk_test_x", "refuses real Stripe"), ("http://127.0.0.1:9", "sk_live_x", "live key")],
)
def test_stripe_advance_refuses_a_real_stripe(settings, base, key, why):
    settings.STRIPE_API_BASE, settings.STRIPE_SECRET_KEY = base, key
    with pytest.raises(CommandError, match=why):
        call_command("stripe_advance", "--days", "30")


@pytest.mark.django_db
def test_reconciliation_finds_a_missed_payment_and_a_ghost_entry_and_fix_posts_only_the_missing(stripe_local):
    subscribe(amount=2700)  # paid at Stripe; no webhook reached us
    ghost = LedgerEntryFactory(
        source=EntrySource.STRIPE,
        external_ref="in_ghost",
        amount_cents=-900,
        kind="payment",
        effective_date=practice_today(),
    )
    today = practice_today()
    run = reconcile(since=today, by=SYSTEM)
    kinds = sorted((d["kind"], d["stripe_id"]) for d in run.discrepancies)
    assert run.status == ReconciliationStatus.DISCREPANCIES and run.discrepancy_count == 2
    assert kinds[0][0] == "missing_in_ledger" and kinds[1] == ("missing_in_stripe", "in_ghost")
    assert StaffTask.objects.filter(kind="stripe.reconcile").count() == 2
    fixed = reconcile(since=today, fix=True, by=SYSTEM)
    assert fixed.fixed_count == 1 and fixed.discrepancy_count == 1  # the ghost is for a person to judge
    assert stripe_entries().exclude(pk=ghost.pk).get().amount_cents == -2700
    assert AuditEvent.objects.filter(verb="stripe.reconcile.fixed").count() == 1
    again = reconcile(since=today, by=SYSTEM)
    assert [d["stripe_id"] for d in again.discrepancies] == ["in_ghost"]
    assert StaffTask.objects.filter(kind="stripe.reconcile").count() == 2  # no new task for a known difference


@pytest.mark.django_db
def test_reconcile_command_prints_json(stripe_local, capsys):
    subscribe()
    call_command("reconcile_stripe", "--since", practice_today().isoformat(), "--json")
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "discrepancies" and result["discrepancies"][0]["kind"] == "missing_in_ledger"


@pytest.mark.django_db
def test_sync_stripe_command_queues_and_processes_what_no_webhook_told_us(stripe_local, capsys):
    subscribe(amount=1900)
    call_command("sync_stripe", "--hours", "1")
    out = capsys.readouterr().out
    assert "1 new states queued" in out and "Processed 1" in out
    assert stripe_entries().get().amount_cents == -1900
    call_command("sync_stripe", "--since", practice_today().isoformat())
    assert "0 new states queued" in capsys.readouterr().out


def test_sync_stripe_command_says_when_stripe_is_unreachable(db):
    with pytest.raises(CommandError, match="could not be reached"):
        call_command("sync_stripe")


@pytest.mark.django_db
def test_a_customer_stripe_no_longer_has_is_made_again_and_audited(stripe_local):
    guarantor = PatientFactory()
    first = customer_ensure(guarantor=guarantor, by=SYSTEM)
    stripe_local.wipe()  # as after a localstripe restart in the demo, or a deletion in the dashboard
    again = customer_ensure(guarantor=guarantor, by=SYSTEM, verify=True)
    assert again.pk == first.pk and again.stripe_id != first.stripe_id
    assert gateway.customer_retrieve(again.stripe_id).metadata["chairside_guarantor_id"] == str(guarantor.pk)
    assert AuditEvent.objects.filter(verb="stripe.customer.replaced", patient=guarantor).count() == 1


@pytest.mark.django_db
def test_scheduled_tasks_do_nothing_without_stripe_keys(settings):
    from billing.stripe import tasks

    settings.STRIPE_SECRET_KEY = ""
    assert tasks.sync_recent() == "Stripe is not configured"
    assert tasks.reconcile_daily() == "Stripe is not configured"


@pytest.mark.django_db
def test_schedules_exist_once_and_an_operators_change_is_kept():
    from django_q.models import Schedule

    from billing.stripe.schedules import ensure_schedules

    ours = Schedule.objects.filter(func__startswith="billing.stripe.tasks.")
    assert sorted(ours.values_list("func", flat=True)) == [
        "billing.stripe.tasks.inbox_drain",
        "billing.stripe.tasks.reconcile_daily",
        "billing.stripe.tasks.sync_recent",
    ]
    ours.filter(func__endswith="sync_recent").update(minutes=15)
    ensure_schedules()
    assert ours.count() == 3 and ours.get(func__endswith="sync_recent").minutes == 15


@pytest.mark.django_db
def test_sync_rechecks_old_open_invoices_and_skips_ones_stripe_no_longer_has(stripe_local):
    from billing.models import PaymentKind

    from .conftest import StripeCustomerFactory

    guarantor, customer, sub = subscribe(card="pm_card_chargeCustomerFail")  # an open invoice at Stripe
    invoice_id = gateway.invoices_for_subscription(sub.id)[0].id
    gone = StripeCustomerFactory()
    long_ago = timezone.now() - timedelta(days=20)
    for stripe_id, owner in [(invoice_id, customer), ("in_gone", gone)]:
        StripePayment.objects.create(
            stripe_id=stripe_id,
            kind=PaymentKind.INVOICE,
            customer=owner,
            guarantor=owner.guarantor,
            patient=owner.guarantor,
            status="open",
            stripe_created=long_ago,
        )
    result = sync_recent(since=timezone.now() + timedelta(minutes=1), by=SYSTEM)  # lists nothing: only the recheck
    assert result.queued == 1  # the real one, now seen failing; the missing one is skipped
    inbox_drain()
    assert StaffTask.objects.filter(kind="stripe.payment_failed").count() == 1
