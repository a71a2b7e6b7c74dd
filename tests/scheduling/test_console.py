from datetime import date, timedelta

import pytest
from django.urls import reverse

from billing.models import StaffTask
from scheduling.models import Appointment, AppointmentStatus
from scheduling.selectors import calendar as calendar_selectors
from scheduling.services.online import hold_place
from tests.billing.factories import PatientFactory, UserFactory
from tests.scheduling.conftest import TUESDAY, at, requester
from tests.scheduling.factories import AppointmentFactory, BlockFactory

pytestmark = pytest.mark.django_db


def day_url(clinic, day=TUESDAY):
    return reverse("scheduling:day") + f"?location={clinic.location.slug}&date={day.isoformat()}"


def online_hold(clinic, hour=9, **who):
    return hold_place(
        location=clinic.location,
        appointment_type=clinic.type,
        provider=clinic.providers[0],
        start=at(TUESDAY, hour),
        requester=requester(**who),
        idempotency_key=f"console-key-{hour:04d}",
    ).appointment


@pytest.mark.parametrize(
    "name",
    ["scheduling:day", "scheduling:holds", "scheduling:book", "scheduling:recall", "scheduling:reconciliation"],
)
def test_calendar_pages_need_a_login_and_the_console_role(client, clinic, name):
    url = reverse(name)
    assert client.get(url)["Location"].startswith("/accounts/login/")
    client.force_login(UserFactory(username="norole"))
    assert client.get(url).status_code == 403


def test_appointment_actions_need_the_console_role(client, clinic, frozen):
    appt = online_hold(clinic)
    client.force_login(UserFactory(username="norole"))
    assert client.post(reverse("scheduling:confirm", args=[appt.pk])).status_code == 403
    assert Appointment.objects.get().status == AppointmentStatus.HOLD


def test_the_day_view_shows_providers_by_time_with_holds_highlighted_and_membership_badges(
    front_desk_client, clinic, frozen, monkeypatch
):
    hold = online_hold(clinic)
    member = AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[1],
        operatory=clinic.operatories[1],
        appointment_type=clinic.type,
        start=at(TUESDAY, 11),
    )
    BlockFactory(location=clinic.location, title="Staff meeting", start=at(TUESDAY, 16), end=at(TUESDAY, 17))
    monkeypatch.setattr(calendar_selectors, "membership_status_by_patient", lambda ids: {member.patient_id: "past_due"})
    response = front_desk_client.get(day_url(clinic))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Dr. Ada Lee" in html and "Dr. Ben Ortiz" in html
    assert f'class="cal-appt hold" id="appt-{hold.pk}"' in html
    assert ">09:00<" in html and ">11:00<" in html  # local times (CDT), not UTC
    assert "past due" in html and "Staff meeting" in html
    assert "Holds to confirm" in html


@pytest.mark.parametrize("n", [5, 50])
def test_the_day_view_makes_the_same_queries_however_full_the_day(
    front_desk_client, clinic, frozen, n, django_assert_num_queries
):
    for i in range(n):
        AppointmentFactory(
            location=clinic.location, appointment_type=clinic.type, start=at(TUESDAY, 8) + timedelta(minutes=10 * i)
        )
    online_hold(clinic, hour=16)
    front_desk_client.get(day_url(clinic))  # warm the session
    # session, user, permissions (2: console role, manager role), locations, then the day: hours,
    # appointments (with patient, type, provider, room, request), blocks, time off, open exceptions.
    with django_assert_num_queries(10):
        response = front_desk_client.get(day_url(clinic))
    assert response.status_code == 200


def test_staff_confirm_a_hold_from_the_console(front_desk_client, clinic, frozen):
    appt = online_hold(clinic)
    response = front_desk_client.post(reverse("scheduling:confirm", args=[appt.pk]))
    assert response.status_code == 302
    appt.refresh_from_db()
    assert appt.status == AppointmentStatus.CONFIRMED and appt.confirmed_by.username == "frontdesk"


def test_staff_reject_a_hold_with_a_reason(front_desk_client, clinic, frozen):
    appt = online_hold(clinic)
    front_desk_client.post(reverse("scheduling:reject", args=[appt.pk]), {"reason": ""})
    assert Appointment.objects.get().status == AppointmentStatus.HOLD
    front_desk_client.post(reverse("scheduling:reject", args=[appt.pk]), {"reason": "Closed for a course"})
    appt.refresh_from_db()
    assert appt.status == AppointmentStatus.CANCELLED and appt.cancel_reason == "Closed for a course"


def test_staff_settle_an_ambiguous_identity_then_confirm(front_desk_client, clinic, frozen):
    known = PatientFactory(first_name="Rosa", last_name="Parks", date_of_birth=date(1985, 2, 4), email="a@example.com")
    appt = online_hold(clinic)
    page = front_desk_client.get(reverse("scheduling:appointment", args=[appt.pk]))
    assert b"Who is this?" in page.content and known.email.encode() in page.content
    front_desk_client.post(reverse("scheduling:link_patient", args=[appt.pk]), {"patient": known.pk})
    front_desk_client.post(reverse("scheduling:confirm", args=[appt.pk]))
    appt.refresh_from_db()
    assert appt.patient == known and appt.status == AppointmentStatus.CONFIRMED
    assert not StaffTask.objects.filter(kind="scheduling.identity", status="open").exists()


def test_staff_book_from_the_console_and_a_clash_shows_alternatives(front_desk_client, clinic, frozen):
    patient = PatientFactory()
    url = reverse("scheduling:book") + f"?location={clinic.location.slug}&patient={patient.pk}"
    assert front_desk_client.get(url).status_code == 200
    data = {
        "location": clinic.location.slug,
        "patient": patient.pk,
        "appointment_type": clinic.type.pk,
        "provider": clinic.providers[0].pk,
        "date": TUESDAY.isoformat(),
        "time": "09:00",
    }
    response = front_desk_client.post(url, data)
    assert response.status_code == 302
    appt = Appointment.objects.get()
    assert appt.start == at(TUESDAY, 9) and appt.status == AppointmentStatus.CONFIRMED
    response = front_desk_client.post(url, {**data, "time": "09:30"})
    assert response.status_code == 422 and b"Nearest open times" in response.content
    assert Appointment.objects.count() == 1


def test_staff_move_an_appointment_from_the_console(front_desk_client, clinic, frozen):
    appt = AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=clinic.type,
        start=at(TUESDAY, 9),
    )
    response = front_desk_client.post(
        reverse("scheduling:move", args=[appt.pk]),
        {"date": TUESDAY.isoformat(), "time": "14:00", "provider": clinic.providers[1].pk},
    )
    assert response.status_code == 302
    appt.refresh_from_db()
    assert appt.start == at(TUESDAY, 14) and appt.provider == clinic.providers[1]


def test_today_shows_holds_to_confirm_and_booking_exceptions(front_desk_client, clinic, frozen):
    online_hold(clinic, note="Needs an interpreter")
    response = front_desk_client.get(reverse("console:today"))
    html = response.content.decode()
    assert "Holds to confirm" in html and "Online bookings &amp; exceptions" in html
    assert "Booking: patient note" in html
    assert "Tue 2 Jun 09:00" in html  # in the location's zone


def test_the_patient_page_lists_appointments_and_offers_booking(front_desk_client, clinic, frozen):
    appt = AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=clinic.type,
        start=at(TUESDAY, 9),
    )
    response = front_desk_client.get(reverse("console:patient_detail", args=[appt.patient_id]))
    html = response.content.decode()
    assert "Appointments" in html and "Tue 2 Jun 2026 09:00" in html
    assert reverse("scheduling:book_for_patient", args=[appt.patient_id]) in html
    assert 'href="/console/calendar/"' in html  # the Calendar nav item


def test_holds_recall_and_reconciliation_pages_render(front_desk_client, clinic, frozen):
    online_hold(clinic)
    assert b"Confirm" in front_desk_client.get(reverse("scheduling:holds")).content
    assert front_desk_client.get(reverse("scheduling:recall")).status_code == 200
    response = front_desk_client.get(
        reverse("scheduling:reconciliation") + f"?location={clinic.location.slug}&day=2026-06-01"
    )
    assert response.status_code == 200 and b"Every online request" in response.content
    assert b"Held" in response.content
