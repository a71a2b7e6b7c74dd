"""A manager fixes reconciliation differences one by one from the console: the same fix as
``reconcile_stripe --fix``, audited, refused for the front desk, once however many clicks. Against
localstripe (real HTTP), and in chromium."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from playwright.sync_api import expect

from billing.actors import Actor
from billing.clock import practice_today
from billing.models import AuditEvent, EntrySource, LedgerEntry, StaffTask, StripeReconciliation, TaskStatus
from billing.stripe.reconcile import MISSING_IN_LEDGER, discrepancy_fix, reconcile
from tests.billing.factories import LedgerEntryFactory
from tests.concurrency import run_at_once
from tests.conftest import browser_login, postgres_only

from .test_localstripe import SYSTEM, subscribe

pytestmark = pytest.mark.stripe


def stripe_entries():
    return LedgerEntry.objects.filter(source=EntrySource.STRIPE)


def missed_payment_and_ghost() -> tuple[StripeReconciliation, str]:
    """A renewal paid at Stripe that no webhook told us about, and a ledger entry Stripe has no object for."""
    subscribe(amount=2700)
    LedgerEntryFactory(
        source=EntrySource.STRIPE,
        external_ref="in_ghost",
        amount_cents=-900,
        kind="payment",
        effective_date=practice_today(),
    )
    run = reconcile(since=practice_today(), by=SYSTEM)
    [missing] = [d["stripe_id"] for d in run.discrepancies if d["kind"] == MISSING_IN_LEDGER]
    return run, missing


@pytest.mark.django_db
class TestService:
    def test_manager_fix_posts_that_one_difference_audited_and_marks_it_fixed(self, stripe_local, manager):
        run, missing = missed_payment_and_ghost()
        outcome = discrepancy_fix(run_id=run.pk, stripe_id=missing, by=Actor.of(manager), note="renewal webhook lost")
        assert outcome.done_now
        entry = stripe_entries().get(external_ref=missing)
        assert entry.amount_cents == -2700
        audit = AuditEvent.objects.get(verb="stripe.reconcile.fixed")
        assert audit.actor_user == manager and audit.occurred_at is not None
        assert audit.before["ledger_cents"] is None and audit.before["fixed"] is False
        assert audit.after["fixed"] is True and audit.after["ledger_entry"] == entry.pk
        assert "posted the missing payment" in audit.reason and "renewal webhook lost" in audit.reason
        run.refresh_from_db()
        assert run.fixed_count == 1 and run.discrepancy_count == 1  # the ghost is left for a person
        assert [d["fixed"] for d in run.discrepancies if d["stripe_id"] == missing] == [True]
        task = StaffTask.objects.get(dedupe_key=f"stripe.reconcile:{MISSING_IN_LEDGER}:{missing}")
        assert task.status == TaskStatus.RESOLVED

    def test_second_fix_of_the_same_difference_changes_nothing(self, stripe_local, manager):
        run, missing = missed_payment_and_ghost()
        discrepancy_fix(run_id=run.pk, stripe_id=missing, by=Actor.of(manager))
        again = discrepancy_fix(run_id=run.pk, stripe_id=missing, by=Actor.of(manager))
        assert not again.done_now
        assert stripe_entries().filter(external_ref=missing).count() == 1
        assert AuditEvent.objects.filter(verb="stripe.reconcile.fixed").count() == 1

    def test_front_desk_is_refused_and_nothing_is_posted(self, stripe_local, front_desk):
        run, missing = missed_payment_and_ghost()
        with pytest.raises(PermissionDenied):
            discrepancy_fix(run_id=run.pk, stripe_id=missing, by=Actor.of(front_desk))
        assert not stripe_entries().filter(external_ref=missing).exists()

    def test_a_difference_with_no_automatic_fix_or_not_on_the_run_is_refused(self, stripe_local, manager):
        run, _ = missed_payment_and_ghost()
        before = stripe_entries().count()
        with pytest.raises(ValidationError) as ghost:
            discrepancy_fix(run_id=run.pk, stripe_id="in_ghost", by=Actor.of(manager))
        assert "Stripe dashboard" in ghost.value.message_dict["stripe_id"][0]
        with pytest.raises(ValidationError):
            discrepancy_fix(run_id=run.pk, stripe_id="in_elsewhere", by=Actor.of(manager))
        with pytest.raises(ValidationError):
            discrepancy_fix(run_id=run.pk + 99, stripe_id="in_ghost", by=Actor.of(manager))
        assert stripe_entries().count() == before and not AuditEvent.objects.filter(verb="stripe.reconcile.fixed")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_fix_requests_at_the_same_moment_post_once(stripe_local, manager):
    run, missing = missed_payment_and_ghost()
    by = Actor.of(manager)
    results = run_at_once([lambda: discrepancy_fix(run_id=run.pk, stripe_id=missing, by=by)] * 2)
    assert sorted(r.done_now for r in results) == [False, True], results
    assert stripe_entries().filter(external_ref=missing).count() == 1
    assert AuditEvent.objects.filter(verb="stripe.reconcile.fixed").count() == 1


@pytest.mark.django_db
class TestView:
    def test_page_lists_each_difference_in_words_with_a_fix_button_only_where_there_is_a_fix(
        self, stripe_local, manager_client
    ):
        run, missing = missed_payment_and_ghost()
        html = manager_client.get(reverse("stripe:reconciliation")).content.decode()
        assert "Stripe took a card payment of $27.00; it isn&#x27;t on the ledger." in html
        assert "doesn&#x27;t show as paid" in html
        assert html.count('<button class="btn" type="submit">Fix</button>') == 1

    def test_double_submit_posts_once_and_says_so(self, stripe_local, manager_client):
        run, missing = missed_payment_and_ghost()
        url = reverse("stripe:reconciliation_fix", args=[run.pk])
        first = manager_client.post(url, {"stripe_id": missing}, follow=True)
        second = manager_client.post(url, {"stripe_id": missing}, follow=True)
        assert "Fixed: the payment of $27.00 is on the ledger now." in first.content.decode()
        assert "Already fixed" in second.content.decode()
        assert stripe_entries().filter(external_ref=missing).count() == 1

    def test_front_desk_gets_403_and_nothing_is_posted(self, stripe_local, front_desk_client):
        run, missing = missed_payment_and_ghost()
        response = front_desk_client.post(reverse("stripe:reconciliation_fix", args=[run.pk]), {"stripe_id": missing})
        assert response.status_code == 403
        assert not stripe_entries().filter(external_ref=missing).exists()

    @pytest.mark.parametrize(
        "data", [{}, {"stripe_id": "in_ghost"}, {"stripe_id": "<script>"}, {"stripe_id": "x" * 300}]
    )
    def test_bad_or_unfixable_requests_are_a_message_not_a_500(self, stripe_local, manager_client, data):
        run, _ = missed_payment_and_ghost()
        before = stripe_entries().count()
        response = manager_client.post(reverse("stripe:reconciliation_fix", args=[run.pk]), data, follow=True)
        assert response.status_code == 200 and 'class="flash error"' in response.content.decode()
        assert stripe_entries().count() == before


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_fixes_a_difference_in_the_browser_and_front_desk_cannot(
    page, live_server, stripe_local, manager, front_desk, screenshot_dir
):
    run, missing = missed_payment_and_ghost()
    browser_login(page, live_server, "manager")
    page.goto(f"{live_server.url}/console/stripe/reconciliation/")
    row = page.locator(f"#difference-{missing}")
    expect(row).to_contain_text("Stripe took a card payment of $27.00")
    page.screenshot(path=screenshot_dir / "differences.png", full_page=True)
    row.get_by_label("Note for the audit trail").fill("webhook lost during the outage")
    row.get_by_role("button", name="Fix").click()
    expect(page.get_by_role("status")).to_contain_text("Fixed: the payment of $27.00 is on the ledger now.")
    expect(page.locator(f"#difference-{missing}")).to_contain_text("fixed")
    expect(page.locator("#difference-in_ghost")).to_contain_text("check in Stripe")
    page.screenshot(path=screenshot_dir / "fixed.png", full_page=True)
    assert stripe_entries().filter(external_ref=missing).count() == 1
    assert AuditEvent.objects.get(verb="stripe.reconcile.fixed").actor_user == manager

    page.get_by_role("button", name="Log out").click()
    browser_login(page, live_server, "frontdesk")
    response = page.goto(f"{live_server.url}/console/stripe/reconciliation/")
    assert response.status == 403
