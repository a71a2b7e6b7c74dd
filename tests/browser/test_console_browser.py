"""The front desk's morning, in a real browser: log in, find a patient, read the ledger, resolve a task."""

from datetime import date

import pytest
from playwright.sync_api import expect

from billing.models import EntryKind, StaffTask, TaskStatus
from tests.billing.factories import LedgerEntryFactory, PatientFactory, StaffTaskFactory
from tests.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_front_desk_searches_a_patient_reads_the_ledger_and_resolves_a_task(
    page, live_server, front_desk, screenshot_dir
):
    patient = PatientFactory(first_name="Rosa", last_name="Lindqvist", date_of_birth=date(1979, 6, 12))
    PatientFactory(first_name="Nils", last_name="Lindqvist", household=patient.household)
    LedgerEntryFactory(
        patient=patient, amount_cents=11000, code="D1110", memo="Prophylaxis, adult", effective_date=date(2026, 9, 1)
    )
    LedgerEntryFactory(
        patient=patient,
        kind=EntryKind.PAYMENT,
        amount_cents=-6000,
        memo="Card at the desk",
        effective_date=date(2026, 9, 2),
    )
    task = StaffTaskFactory(patient=patient, title="Call back about the September statement")

    browser_login(page, live_server, "frontdesk")
    expect(page.get_by_role("heading", name="Open tasks")).to_be_visible()
    page.screenshot(path=screenshot_dir / "1-today.png", full_page=True)

    page.get_by_role("searchbox", name="Find patient").fill("lindqvist 1979-06-12")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Lindqvist, Rosa")).to_be_visible()
    expect(page.get_by_role("link", name="Lindqvist, Nils")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "2-search.png", full_page=True)

    page.get_by_role("link", name="Lindqvist, Rosa").click()
    ledger = page.locator("#ledger")
    expect(ledger).to_contain_text("Prophylaxis, adult")
    expect(ledger.locator("tbody tr").first).to_contain_text("$50.00")  # running balance after the payment
    expect(page.locator("#patient-balance")).to_have_text("$50.00")
    expect(page.get_by_text("Nils Lindqvist")).to_be_visible()
    page.screenshot(path=screenshot_dir / "3-patient.png", full_page=True)

    page.get_by_role("link", name="Tasks", exact=True).click()
    row = page.locator(f"#task-{task.pk}")
    row.get_by_role("textbox").fill("Called Rosa, explained the statement")
    row.get_by_role("button", name="Resolve").click()
    expect(page.locator(f"#task-{task.pk}")).to_contain_text("resolved")
    page.screenshot(path=screenshot_dir / "4-task-resolved.png", full_page=True)

    task = StaffTask.objects.get(pk=task.pk)
    assert task.status == TaskStatus.RESOLVED
    assert task.resolved_by == front_desk
    assert task.resolution_note == "Called Rosa, explained the statement"
