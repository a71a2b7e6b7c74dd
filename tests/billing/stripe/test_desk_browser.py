"""The desk's card flow in a real browser (Debian's chromium through Playwright) against localstripe: the
card is typed into Stripe.js's own fields and set up with confirmCardSetup, so it never reaches us."""

import pytest
from playwright.sync_api import expect

from billing.models import EntryKind, EventStatus, LedgerEntry, StripeEvent
from tests.billing.factories import LedgerEntryFactory, PatientFactory
from tests.conftest import browser_login

from .conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.stripe, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def child():
    parent = PatientFactory(first_name="Dana", last_name="Rivera", email="dana@example.com")
    child = PatientFactory(household=parent.household, first_name="Sam", last_name="Rivera")
    LedgerEntryFactory(patient=child, amount_cents=15000)
    return child


def enter_card(page, number: str) -> None:
    page.get_by_placeholder("number").fill(number)
    page.get_by_placeholder("exp_month").fill("12")
    page.get_by_placeholder("exp_year").fill("30")
    page.get_by_placeholder("cvc").fill("123")
    page.get_by_placeholder("postal_code").fill("62701")


def test_front_desk_pays_with_a_new_card_and_a_manager_refunds_part(
    page, live_server, stripe_webhooks, front_desk, manager, child, screenshot_dir
):
    browser_login(page, live_server, "frontdesk")
    page.goto(f"{live_server.url}/console/patients/{child.pk}/")
    page.locator(".toolbar").get_by_role("link", name="Take card payment").click()
    expect(page.get_by_role("heading", name="Take a card payment")).to_be_visible()
    expect(page.get_by_label("Amount")).to_have_value("150.00")
    enter_card(page, "4242424242424242")
    page.screenshot(path=screenshot_dir / "card-form.png", full_page=True)
    page.get_by_role("button", name="Charge card").click()
    page.wait_for_url(f"{live_server.url}/console/patients/{child.pk}/")
    expect(page.get_by_role("status")).to_contain_text("Payment of $150.00 received (Visa ····4242)")
    expect(page.locator("#patient-balance")).to_have_text("$0.00")
    page.screenshot(path=screenshot_dir / "paid.png", full_page=True)
    payment = LedgerEntry.objects.get(kind=EntryKind.PAYMENT)
    assert payment.amount_cents == -15000 and payment.posted_by_user == front_desk
    # Stripe's payment_intent.succeeded webhook lands a moment later and posts nothing more.
    wait_for(
        lambda: StripeEvent.objects.filter(type="payment_intent.succeeded", status=EventStatus.PROCESSED).exists(),
        what="the payment's webhook",
    )
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 1

    page.get_by_role("button", name="Log out").click()
    browser_login(page, live_server, "manager")
    page.goto(f"{live_server.url}/console/patients/{child.pk}/")
    page.locator("#card-payments").get_by_role("link", name="Refund").click()
    page.get_by_label("Amount to refund").fill("50.00")
    page.get_by_label("Reason").fill("Fluoride not applied")
    page.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("status")).to_contain_text("Refunded $50.00 to the card.")
    expect(page.locator("#patient-balance")).to_have_text("$50.00")
    page.screenshot(path=screenshot_dir / "refunded.png", full_page=True)
    refund = LedgerEntry.objects.get(kind=EntryKind.REFUND)
    assert refund.amount_cents == 5000 and refund.related_entry == payment and refund.posted_by_user == manager


def test_declined_card_shows_the_reason_and_posts_nothing(
    page, live_server, stripe_webhooks, front_desk, child, screenshot_dir
):
    browser_login(page, live_server, "frontdesk")
    page.goto(f"{live_server.url}/console/stripe/patients/{child.pk}/card-payment/")
    page.get_by_label("Amount").fill("40.00")
    enter_card(page, "4000000000000341")  # sets up fine, declines when charged
    page.get_by_role("button", name="Charge card").click()
    expect(page.locator("#payment-error")).to_have_text(
        "The card was declined. Ask the patient to call their bank or use another card."
    )
    expect(page.get_by_label("Amount")).to_have_value("40.00")
    page.screenshot(path=screenshot_dir / "declined.png", full_page=True)
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()
    enter_card(page, "4000000000000002")  # declined by the bank as soon as it is set up: Stripe.js says so
    page.get_by_role("button", name="Charge card").click()
    expect(page.locator("#card-errors")).to_have_text("Your card was declined.")
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()
