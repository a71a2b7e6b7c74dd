"""Issue 8 in a real browser: paying more than the household owes at the desk warns before the card is
charged, keeps the card just entered, and once confirmed leaves the rest as credit on account."""

import pytest
from playwright.sync_api import expect

from billing.models import EntryKind, LedgerEntry, StripePayment
from tests.billing.factories import LedgerEntryFactory, PatientFactory
from tests.conftest import browser_login

from .test_desk_browser import enter_card

pytestmark = [pytest.mark.browser, pytest.mark.stripe, pytest.mark.django_db(transaction=True)]


def test_front_desk_confirms_an_overpayment_and_the_rest_shows_as_credit(
    page, live_server, stripe_webhooks, front_desk, screenshot_dir
):
    parent = PatientFactory(first_name="Dana", last_name="Rivera", email="dana@example.com")
    child = PatientFactory(household=parent.household, first_name="Sam", last_name="Rivera")
    LedgerEntryFactory(patient=child, amount_cents=15000)
    browser_login(page, live_server, "frontdesk")
    page.goto(f"{live_server.url}/console/patients/{child.pk}/")
    page.locator(".toolbar").get_by_role("link", name="Take card payment").click()
    expect(page.get_by_label("Amount")).to_have_value("150.00")
    page.get_by_label("Amount").fill("3000.00")
    enter_card(page, "4242424242424242")
    page.get_by_role("button", name="Charge card").click()
    warning = page.locator("#overpayment-warning")
    expect(warning).to_contain_text("owes $150.00")
    expect(warning).to_contain_text("nothing has been charged yet")
    expect(page.get_by_label("Amount")).to_have_value("3000.00")
    page.screenshot(path=screenshot_dir / "overpayment-warning.png", full_page=True)
    assert not StripePayment.objects.exists()
    page.get_by_label("Charge anyway, leave $2,850.00 as credit on account").check()
    page.get_by_role("button", name="Charge card").click()
    page.wait_for_url(f"{live_server.url}/console/patients/{child.pk}/")
    expect(page.get_by_role("status").first).to_contain_text("Payment of $3,000.00 received")
    expect(page.locator("#household-balance")).to_have_text("Credit on account $2,850.00")
    assert LedgerEntry.objects.get(kind=EntryKind.PAYMENT).amount_cents == -300000
