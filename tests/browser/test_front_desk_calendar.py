"""The front desk's everyday in the calendar, in a real browser at a 1440×900 desktop (issue 8): the task
queue links to the appointment, the holds list shows the typed name, a disabled button looks disabled and
says why, new contact details typed online are offered, check-in and complete say what happened, the
booking form starts at the patient's location with that location's providers, and a nearest open time
books with one click. Screenshots land in test-results/."""

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import Patient
from scheduling.models import Appointment, AppointmentStatus
from scheduling.selectors.availability import local_to_utc
from scheduling.selectors.settings import scheduling_settings
from scheduling.services.online import Requester, hold_place
from tests.billing.factories import LocationFactory, PatientFactory
from tests.conftest import browser_login
from tests.scheduling.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    OperatoryFactory,
    ProviderFactory,
    WorkingHoursFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1440, "height": 900}
BRAND = "rgb(15, 110, 110)"  # --brand: what an enabled button looks like


@pytest.fixture
def practice(db):
    lakeview = LocationFactory(slug="lakeview", name="Riverside Family Dental: Lakeview", time_zone="America/Chicago")
    north = LocationFactory(slug="northside", name="Riverside Family Dental: Northside", time_zone="America/Chicago")
    lee, ortiz, moss = (
        ProviderFactory(name=n, sort_order=i) for i, n in enumerate(["Dr. Ada Lee", "Dr. Ben Ortiz", "Dr. Cy Moss"])
    )
    for weekday in range(7):
        for provider in (lee, ortiz):
            WorkingHoursFactory(provider=provider, location=lakeview, weekday=weekday)
        WorkingHoursFactory(provider=moss, location=north, weekday=weekday)
    for n in (1, 2):
        OperatoryFactory(location=lakeview, name=f"Op {n}")
    OperatoryFactory(location=north, name="North 1")
    cleaning = AppointmentTypeFactory(name="Cleaning & checkup", duration_minutes=60, buffer_after_minutes=10)
    scheduling_settings()
    day = timezone.now().astimezone(lakeview.zone).date() + timedelta(days=3)
    return lakeview, north, (lee, ortiz, moss), cleaning, day


def _at(day: date, hour: int, location) -> datetime:
    return local_to_utc(day, time(hour), location.zone)


def _assert_one_row(toolbar) -> None:
    """Every visible item's middle lies within every other's height: a wrapped item would sit below."""
    boxes = toolbar.evaluate(
        "t => [...t.children].map(c => c.getBoundingClientRect()).filter(r => r.height > 0).map(r => [r.top, r.bottom])"
    )
    middles = [(top + bottom) / 2 for top, bottom in boxes]
    assert all(top <= m <= bottom for top, bottom in boxes for m in middles), f"the toolbar wraps: {boxes}"
    assert toolbar.evaluate("t => t.scrollWidth <= t.clientWidth"), "the toolbar overflows"


def _online(location, provider, appointment_type, start, key, **who):
    data = {"first_name": "Rosa", "last_name": "Parks", "date_of_birth": date(1985, 2, 4)}
    data.update({"email": "rosa@example.com", "phone": "(217) 555-0199", **who})
    return hold_place(
        location=location,
        appointment_type=appointment_type,
        provider=provider,
        start=start,
        requester=Requester(**data),
        idempotency_key=key,
    ).appointment


def test_front_desk_settles_an_online_hold_from_its_task(page, live_server, practice, front_desk, screenshot_dir):
    lakeview, _, (lee, ortiz, _), cleaning, day = practice
    # Two charts look like "Rosa Parks, 1985-02-04" with other details: the request is ambiguous.
    for email in ("rosa.parks@example.com", "r.parks@example.com"):
        PatientFactory(
            first_name="Rosa",
            last_name="Parks",
            date_of_birth=date(1985, 2, 4),
            email=email,
            phone="",
            home_location=lakeview,
        )
    hold = _online(lakeview, lee, cleaning, _at(day, 10, lakeview), "browser-hold-1", email="rosa.new@example.com")
    assert hold.patient_id is None
    page.set_viewport_size(DESKTOP)
    browser_login(page, live_server, "frontdesk")

    # The calendar toolbar fits on one line at 1440 px, with the demo's long names and the longest day name.
    page.goto(f"{live_server.url}/console/calendar/?location=northside&date=2026-09-30")
    page.screenshot(path=screenshot_dir / "0-day-view-1440-long-names.png")
    _assert_one_row(page.locator("main .toolbar").first)
    page.goto(f"{live_server.url}/console/calendar/?location=lakeview&date={day.isoformat()}")
    _assert_one_row(page.locator("main .toolbar").first)
    page.screenshot(path=screenshot_dir / "1-day-view-1440.png")

    # The holds list shows the name typed online.
    page.get_by_role("link", name="Holds to confirm").first.click()
    row = page.locator(f"#hold-{hold.pk}")
    expect(row).to_contain_text("Rosa Parks")
    expect(row).to_contain_text("confirm identity")
    page.screenshot(path=screenshot_dir / "2-holds.png", full_page=True)

    # The task queue links straight to the appointment.
    page.get_by_role("link", name="Tasks", exact=True).click()
    page.screenshot(path=screenshot_dir / "2b-task-queue.png", full_page=True)
    page.get_by_role("link", name="Open appointment").first.click()
    page.wait_for_url(f"{live_server.url}/console/calendar/appointments/{hold.pk}/")

    # Confirm hold is truly disabled, looks it, and says why.
    confirm = page.get_by_role("button", name="Confirm hold")
    expect(confirm).to_be_disabled()
    expect(page.locator("#confirm-why")).to_be_visible()
    assert confirm.evaluate("b => getComputedStyle(b).backgroundColor") != BRAND
    assert confirm.evaluate("b => getComputedStyle(b).cursor") == "not-allowed"
    enabled = page.get_by_role("button", name="Save identity")
    assert enabled.evaluate("b => getComputedStyle(b).backgroundColor") == BRAND
    page.screenshot(path=screenshot_dir / "3-appointment-unlinked.png", full_page=True)

    # Link the first chart: the email typed online is offered; take it.
    page.get_by_role("radio", name="rosa.parks@example.com").check()
    page.get_by_role("button", name="Save identity").click()
    expect(page.get_by_text("Identity confirmed")).to_be_visible()
    offer = page.locator("#contact-offer")
    expect(offer).to_contain_text("Patient typed a new email rosa.new@example.com")
    page.screenshot(path=screenshot_dir / "4-contact-offer.png", full_page=True)
    offer.get_by_role("checkbox", name="Phone").uncheck()
    offer.get_by_role("button", name="Update chart").click()
    expect(page.get_by_text("Chart updated with the email")).to_be_visible()
    expect(page.locator("#contact-offer")).to_have_count(0)
    chart = Patient.objects.get(email="rosa.new@example.com")
    assert chart.phone == ""  # the phone was left as it was

    # Now it can be confirmed.
    expect(page.get_by_role("button", name="Confirm hold")).to_be_enabled()
    page.get_by_role("button", name="Confirm hold").click()
    expect(page.get_by_text("Hold confirmed")).to_be_visible()
    page.screenshot(path=screenshot_dir / "5-confirmed.png", full_page=True)
    assert Appointment.objects.get(pk=hold.pk).status == AppointmentStatus.CONFIRMED


def test_front_desk_checks_in_and_completes_with_feedback(page, live_server, practice, front_desk, screenshot_dir):
    lakeview, _, (lee, _, _), cleaning, _ = practice
    now = timezone.now()
    appt = AppointmentFactory(
        location=lakeview,
        provider=lee,
        operatory=lakeview.operatories.first(),
        appointment_type=cleaning,
        start=now + timedelta(minutes=10),
        patient=PatientFactory(first_name="Nils", last_name="Lindqvist", home_location=lakeview),
    )
    page.set_viewport_size(DESKTOP)
    browser_login(page, live_server, "frontdesk")
    page.goto(f"{live_server.url}/console/calendar/appointments/{appt.pk}/")
    page.get_by_role("button", name="Check in").click()
    expect(page.get_by_role("status")).to_contain_text("Nils Lindqvist checked in at")
    expect(page.locator("#appt-status")).to_contain_text("checked in")
    page.screenshot(path=screenshot_dir / "1-checked-in.png", full_page=True)
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_role("status")).to_contain_text("Visit completed at")
    expect(page.locator("#appt-status")).to_contain_text("completed")
    page.screenshot(path=screenshot_dir / "2-completed.png", full_page=True)


def test_front_desk_books_at_the_patients_location_and_takes_a_nearest_time(
    page, live_server, practice, front_desk, screenshot_dir
):
    lakeview, north, (_, _, moss), cleaning, day = practice
    patient = PatientFactory(first_name="Ida", last_name="Wells", home_location=north)
    AppointmentFactory(
        location=north,
        provider=moss,
        operatory=north.operatories.first(),
        appointment_type=cleaning,
        start=_at(day, 9, north),
    )
    page.set_viewport_size(DESKTOP)
    browser_login(page, live_server, "frontdesk")
    page.goto(f"{live_server.url}/console/calendar/?location=lakeview")  # the calendar last showed Lakeview
    page.get_by_role("link", name="Book", exact=True).first.click()
    expect(page.get_by_role("button", name="Book (confirmed)")).to_be_disabled()
    expect(page.locator("#book-why")).to_contain_text("Find the patient first")
    page.screenshot(path=screenshot_dir / "0-book-no-patient.png", full_page=True)

    page.goto(f"{live_server.url}/console/patients/{patient.pk}/")
    page.get_by_role("link", name="Book appointment").click()
    expect(page.get_by_role("heading", name="Book at Riverside Family Dental: Northside")).to_be_visible()
    providers = page.get_by_label("Provider").locator("option").all_inner_texts()
    assert "Dr. Cy Moss" in providers and "Dr. Ada Lee" not in providers
    page.get_by_label("Type").select_option(label="Cleaning & checkup")
    page.get_by_label("Provider").select_option(label="Dr. Cy Moss")
    page.locator("#id_date").fill(day.isoformat())
    page.locator("#id_time").fill("09:30")
    page.get_by_role("button", name="Book (confirmed)").click()
    alternatives = page.locator("#alternatives")
    expect(alternatives).to_contain_text("Nearest open times")
    page.screenshot(path=screenshot_dir / "1-clash-alternatives.png", full_page=True)
    first = alternatives.get_by_role("button", name="Book this time").first
    label = first.get_attribute("aria-label")
    first.click()
    expect(page.get_by_text("Booked Ida Wells")).to_be_visible()
    page.screenshot(path=screenshot_dir / "2-booked.png", full_page=True)
    booked = Appointment.objects.get(patient=patient)
    assert booked.location == north and booked.provider == moss
    assert booked.start.astimezone(north.zone).strftime("%H:%M") in label
