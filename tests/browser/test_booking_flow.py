"""A patient books on the public page (phone-sized), opens the manage link from the email, reschedules;
then the front desk confirms the hold in the console. Screenshots land in test-results/."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from scheduling.models import Appointment, AppointmentStatus
from scheduling.selectors.settings import scheduling_settings
from tests.billing.factories import LocationFactory
from tests.conftest import browser_login
from tests.scheduling.factories import AppointmentTypeFactory, OperatoryFactory, ProviderFactory, WorkingHoursFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def practice_calendar(db):
    location = LocationFactory(slug="lakeview", name="Lakeview Dental", time_zone="America/Chicago")
    for name in ("Dr. Ada Lee", "Dr. Ben Ortiz"):
        provider = ProviderFactory(name=name)
        for weekday in range(7):
            WorkingHoursFactory(provider=provider, location=location, weekday=weekday)
    for n in (1, 2):
        OperatoryFactory(location=location, name=f"Op {n}")
    AppointmentTypeFactory(name="Cleaning & checkup", duration_minutes=60, buffer_after_minutes=10)
    scheduling_settings()
    return location


def test_patient_books_reschedules_and_front_desk_confirms(
    page, live_server, practice_calendar, front_desk, screenshot_dir
):
    location = practice_calendar
    day = timezone.now().astimezone(location.zone).date() + timedelta(days=3)
    later = day + timedelta(days=1)

    # 1. The patient, on a phone: service → day → time → details.
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/book/{location.slug}/")
    page.get_by_role("link", name=re.compile("Cleaning & checkup")).click()
    page.locator(f'a.day[href*="day={day.isoformat()}"]').click()
    page.get_by_role("link", name=re.compile(r"^10:00 AM")).first.click()
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Parks")
    page.get_by_label("Date of birth").fill("1985-02-04")
    page.get_by_role("textbox", name="Email").fill("rosa@example.com")
    page.get_by_label("Phone").fill("(217) 555-0199")
    page.screenshot(path=screenshot_dir / "1-details-phone.png", full_page=True)
    page.get_by_role("button", name="Request this time").click()
    page.get_by_role("heading", name="Request received").wait_for()
    page.screenshot(path=screenshot_dir / "2-received-phone.png", full_page=True)
    appt = Appointment.objects.get()
    assert appt.status == AppointmentStatus.HOLD
    assert appt.start.astimezone(location.zone).hour == 10

    # 2. The manage link from the email: view, then reschedule to the next day.
    link = re.search(r"(http://\S+/book/manage/\S+/)", mail.outbox[-1].body).group(1)
    page.goto(link.replace("http://testserver", live_server.url))
    assert page.locator("#status").inner_text().strip().startswith("Waiting for the practice")
    page.get_by_role("link", name="Reschedule").click()
    page.locator(f'a.day[href*="day={later.isoformat()}"]').click()
    page.get_by_role("button", name=re.compile(r"^2:00 PM")).first.click()
    page.get_by_text("Moved. The practice will confirm").wait_for()
    page.screenshot(path=screenshot_dir / "3-rescheduled-phone.png", full_page=True)
    appt.refresh_from_db()
    assert appt.start.astimezone(location.zone).date() == later and appt.status == AppointmentStatus.HOLD

    # 3. The front desk sees the hold on the day view and confirms it from the holds list.
    page.set_viewport_size({"width": 1400, "height": 900})
    browser_login(page, live_server, "frontdesk")
    page.goto(f"{live_server.url}/console/calendar/?location={location.slug}&date={later.isoformat()}")
    hold_box = page.locator(f"#appt-{appt.pk}")
    assert "hold" in hold_box.get_attribute("class")
    page.screenshot(path=screenshot_dir / "4-day-view-hold.png", full_page=True)
    page.get_by_role("link", name="Holds to confirm").first.click()
    page.locator(f"#hold-{appt.pk}").get_by_role("button", name="Confirm").click()
    page.get_by_text("Hold confirmed").wait_for()
    page.screenshot(path=screenshot_dir / "5-confirmed.png", full_page=True)
    appt.refresh_from_db()
    assert appt.status == AppointmentStatus.CONFIRMED and appt.confirmed_by == front_desk
    assert any("Confirmed:" in m.subject for m in mail.outbox)
