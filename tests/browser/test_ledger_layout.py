"""The manager's patient page at 1440 px: ledger dates (and audit times) stay on one line (issue 8)."""

from datetime import date

import pytest
from playwright.sync_api import expect

from billing.actors import Actor
from billing.models import EntryKind
from billing.services.audit import audit_record
from tests.billing.factories import LedgerEntryFactory, PatientFactory, StaffTaskFactory
from tests.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How many line boxes each cell's text takes (1 = it didn't wrap).
LINES_PER_CELL = """cells => cells.map(td => {
  const range = document.createRange();
  range.selectNodeContents(td);
  const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  return [td.innerText, tops.size];
})"""


def test_ledger_dates_do_not_wrap_on_a_1440_px_screen(page, live_server, manager, screenshot_dir):
    page.set_viewport_size({"width": 1440, "height": 900})
    patient = PatientFactory(first_name="Camila", last_name="Tanaka", preferred_name="Cami")
    long_memo = "Comprehensive periodontal evaluation, new or established patient, with full-mouth radiographs"
    for day in range(1, 9):
        entry = LedgerEntryFactory(
            patient=patient,
            kind=EntryKind.CHARGE if day % 2 else EntryKind.PAYMENT,
            amount_cents=123456 if day % 2 else -23456,
            code="D0180",
            memo=long_memo,
            effective_date=date(2026, 9, day),
        )
        audit_record(actor=Actor.of(manager), verb="ledger.posted", target=entry, patient=patient)
    StaffTaskFactory(patient=patient, title="Call about the September statement, and the insurance estimate")

    browser_login(page, live_server, "manager", "correct horse battery")
    page.goto(f"{live_server.url}/console/patients/{patient.pk}/")
    expect(page.locator("#ledger")).to_contain_text(long_memo[:30])
    page.screenshot(path=screenshot_dir / "patient-1440.png", full_page=True)

    dates = page.locator("#ledger tbody tr td:first-child").all()
    assert len(dates) == 8
    for text, lines in page.locator("#ledger tbody tr td:first-child").evaluate_all(LINES_PER_CELL):
        assert lines == 1, f"ledger date {text!r} wraps onto {lines} lines at 1440 px"
    for text, lines in page.locator("table.audit > tbody > tr > td:first-child").evaluate_all(LINES_PER_CELL):
        assert lines == 1, f"audit time {text!r} wraps onto {lines} lines at 1440 px"
