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


# --- Issue 8: the front desk's everyday ----------------------------------------------------------------------


def ambiguous_hold(clinic, hour=9):
    """A request that looks like an existing chart with other contact details: kept without a patient."""
    PatientFactory(
        first_name="Rosa", last_name="Parks", date_of_birth=date(1985, 2, 4), email="old@example.com", phone=""
    )
    return online_hold(clinic, hour=hour, first_name="Rosa", last_name="Parks", email="typed@example.com")


def test_a_scheduling_task_links_to_its_appointment_from_the_queue_and_the_patient_page(
    front_desk_client, clinic, frozen
):
    appt = ambiguous_hold(clinic)
    link = reverse("scheduling:appointment", args=[appt.pk])
    queue = front_desk_client.get(reverse("console:tasks")).content.decode()
    assert "Booking: confirm identity" in queue
    assert f'href="{link}">Open appointment' in queue
    note = online_hold(clinic, hour=11, first_name="Ida", last_name="Wells", note="Wheelchair access please")
    page = front_desk_client.get(reverse("console:patient_detail", args=[note.patient_id])).content.decode()
    assert f'href="{reverse("scheduling:appointment", args=[note.pk])}">Open appointment' in page


def test_a_task_whose_context_cannot_be_linked_is_listed_without_a_link():
    from billing.registry import task_target

    assert task_target("scheduling.identity", {"appointment": "not-a-number"}) is None
    assert task_target("scheduling.identity", {}) is None
    assert task_target("general", {"appointment": 5}) is None
    assert task_target("scheduling.identity", {"appointment": 5}) == (
        "/console/calendar/appointments/5/",
        "Open appointment",
    )


def test_the_holds_lists_show_the_name_typed_for_a_hold_not_yet_linked(front_desk_client, clinic, frozen):
    appt = ambiguous_hold(clinic)
    assert appt.patient_id is None
    for url in (reverse("scheduling:holds"), reverse("console:today"), day_url(clinic)):
        html = front_desk_client.get(url).content.decode()
        assert "Rosa Parks" in html, url


# Contact details typed on a request linked to an existing chart


@pytest.fixture
def linked(clinic, frozen):
    """Rosa's chart has her old email; she books online typing a new email (same phone): linked, and asked."""
    patient = PatientFactory(
        first_name="Rosa",
        last_name="Parks",
        date_of_birth=date(1985, 2, 4),
        email="rosa.old@example.com",
        phone="+12175550199",
    )
    appt = online_hold(clinic, email="rosa.new@example.com")
    assert appt.patient == patient
    return patient, appt


def test_a_new_email_typed_for_a_linked_chart_is_kept_and_offered_and_the_confirmation_goes_there(
    linked, django_capture_on_commit_callbacks
):
    from billing.models import Message

    patient, appt = linked
    patient.refresh_from_db()
    assert patient.email == "rosa.old@example.com"  # the booking page never changes a chart
    task = StaffTask.objects.get(kind="scheduling.contact_changed")
    assert task.is_open and task.patient == patient and task.context["fields"] == ["email"]
    received = Message.objects.get(template="scheduling/hold_received")
    assert received.to == "rosa.new@example.com"
    transitions_confirm(appt)
    confirmed = Message.objects.get(template="scheduling/confirmed")
    assert confirmed.to == "rosa.new@example.com"


def transitions_confirm(appt):
    from billing.actors import Actor
    from scheduling.services.transitions import hold_confirm

    hold_confirm(appointment=appt, by=Actor.system_component("test"))


def test_staff_update_the_chart_with_the_typed_email_audited_and_the_offer_goes_away(front_desk_client, linked):
    from billing.models import AuditEvent

    patient, appt = linked
    url = reverse("scheduling:appointment", args=[appt.pk])
    html = front_desk_client.get(url).content.decode()
    assert "Patient typed a new email" in html and "rosa.new@example.com" in html and "Update chart" in html
    response = front_desk_client.post(
        reverse("scheduling:contact_details", args=[appt.pk]), {"action": "update", "fields": ["email"]}, follow=True
    )
    assert "Chart updated with the email" in response.content.decode()
    patient.refresh_from_db()
    assert patient.email == "rosa.new@example.com" and patient.phone == "+12175550199"
    event = AuditEvent.objects.get(verb="patient.updated", target_id=str(patient.pk))
    assert event.actor_label == "frontdesk" and "request #" in event.reason
    assert event.after == {"email": "rosa.new@example.com"}
    assert not StaffTask.objects.filter(kind="scheduling.contact_changed", status="open").exists()
    assert "Patient typed a new" not in front_desk_client.get(url).content.decode()


def test_staff_keep_the_chart_as_is_and_it_is_audited(front_desk_client, linked):
    from billing.models import AuditEvent

    patient, appt = linked
    front_desk_client.post(reverse("scheduling:contact_details", args=[appt.pk]), {"action": "keep"})
    patient.refresh_from_db()
    assert patient.email == "rosa.old@example.com"
    assert AuditEvent.objects.filter(verb="booking.contact_kept", patient=patient).count() == 1
    task = StaffTask.objects.get(kind="scheduling.contact_changed")
    assert not task.is_open and task.resolved_by.username == "frontdesk"
    html = front_desk_client.get(reverse("scheduling:appointment", args=[appt.pk])).content.decode()
    assert "Patient typed a new" not in html


def test_updating_with_nothing_ticked_says_so_and_changes_nothing(front_desk_client, linked):
    patient, appt = linked
    response = front_desk_client.post(
        reverse("scheduling:contact_details", args=[appt.pk]), {"action": "update"}, follow=True
    )
    assert "Tick the email, the phone, or both." in response.content.decode()
    patient.refresh_from_db()
    assert patient.email == "rosa.old@example.com"
    assert StaffTask.objects.get(kind="scheduling.contact_changed").is_open


def test_the_contact_service_refuses_other_fields():
    from django.core.exceptions import ValidationError

    from billing.actors import Actor
    from scheduling.models import BookingRequest
    from scheduling.services.identity import contact_update_apply

    with pytest.raises(ValidationError) as exc:
        contact_update_apply(booking_request=BookingRequest(), by=Actor.system_component("t"), fields=["last_name"])
    assert "last_name" in exc.value.message_dict


def test_linking_an_ambiguous_request_to_a_chart_offers_the_typed_details(front_desk_client, clinic, frozen):
    appt = ambiguous_hold(clinic)
    known = appt.booking_request.candidate_patient_ids[0]
    front_desk_client.post(reverse("scheduling:link_patient", args=[appt.pk]), {"patient": known})
    html = front_desk_client.get(reverse("scheduling:appointment", args=[appt.pk])).content.decode()
    assert "Patient typed a new email" in html and "typed@example.com" in html and "a new phone" in html


def test_a_request_that_matches_the_chart_exactly_asks_nothing(clinic, frozen):
    PatientFactory(
        first_name="Rosa",
        last_name="Parks",
        date_of_birth=date(1985, 2, 4),
        email="rosa@example.com",
        phone="+12175550199",
    )
    appt = online_hold(clinic)
    assert appt.patient is not None
    assert not StaffTask.objects.filter(kind="scheduling.contact_changed").exists()


# Staff booking form


@pytest.fixture
def two_sites(clinic):
    """A second location, Northside, where only Dr. Cy Moss works."""
    from tests.billing.factories import LocationFactory
    from tests.scheduling.factories import OperatoryFactory, ProviderFactory, WorkingHoursFactory

    north = LocationFactory(slug="northside", name="Northside Dental", time_zone="America/Chicago")
    moss = ProviderFactory(name="Dr. Cy Moss", sort_order=3)
    for weekday in range(7):
        WorkingHoursFactory(provider=moss, location=north, weekday=weekday)
    OperatoryFactory(location=north, name="North 1")
    return north, moss


def test_booking_for_a_patient_defaults_to_their_home_location_unless_a_calendar_asked(
    front_desk_client, clinic, two_sites, frozen
):
    north, _ = two_sites
    patient = PatientFactory(home_location=north)
    front_desk_client.get(day_url(clinic))  # the calendar last showed Lakeview
    page = front_desk_client.get(reverse("scheduling:book_for_patient", args=[patient.pk]))
    assert page.context["location"] == north
    page = front_desk_client.get(reverse("scheduling:book") + f"?patient={patient.pk}")
    assert page.context["location"] == north
    from_calendar = reverse("scheduling:book") + f"?location={clinic.location.slug}&patient={patient.pk}"
    assert front_desk_client.get(from_calendar).context["location"] == clinic.location


def test_without_a_home_location_the_patients_last_visit_decides(front_desk_client, clinic, two_sites, frozen):
    north, moss = two_sites
    patient = PatientFactory(home_location=None)
    AppointmentFactory(
        patient=patient, location=north, provider=moss, appointment_type=clinic.type, start=at(TUESDAY, 9)
    )
    page = front_desk_client.get(reverse("scheduling:book_for_patient", args=[patient.pk]))
    assert page.context["location"] == north


def test_the_booking_form_offers_only_the_locations_providers_and_refuses_another_by_name(
    front_desk_client, clinic, two_sites, frozen
):
    _, moss = two_sites
    patient = PatientFactory(home_location=clinic.location)
    url = reverse("scheduling:book") + f"?location={clinic.location.slug}&patient={patient.pk}"
    choices = [str(c) for _, c in front_desk_client.get(url).context["form"].fields["provider"].choices]
    assert "Dr. Ada Lee" in choices and "Dr. Cy Moss" not in choices
    data = {
        "location": clinic.location.slug,
        "patient": patient.pk,
        "appointment_type": clinic.type.pk,
        "provider": moss.pk,
        "date": TUESDAY.isoformat(),
        "time": "09:00",
    }
    response = front_desk_client.post(url, data)
    assert response.status_code == 422
    assert "provider" in response.context["form"].errors
    assert not response.context["form"].non_field_errors()  # not "That time isn't free"
    assert not Appointment.objects.exists()


def test_a_provider_whose_rota_here_ended_is_not_offered(clinic, frozen):
    from scheduling.forms import providers_at
    from tests.scheduling.factories import ProviderFactory, WorkingHoursFactory

    gone = ProviderFactory(name="Dr. Gone")
    WorkingHoursFactory(provider=gone, location=clinic.location, valid_until=date(2026, 5, 1))
    assert gone not in providers_at(clinic.location)
    assert set(providers_at(clinic.location)) == set(clinic.providers)


def test_a_nearest_open_time_books_with_one_click(front_desk_client, clinic, frozen):
    patient = PatientFactory(home_location=clinic.location)
    AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=clinic.type,
        start=at(TUESDAY, 9),
    )
    url = reverse("scheduling:book") + f"?patient={patient.pk}"
    data = {
        "location": clinic.location.slug,
        "patient": patient.pk,
        "appointment_type": clinic.type.pk,
        "provider": clinic.providers[0].pk,
        "date": TUESDAY.isoformat(),
        "time": "09:30",
        "note": "Prefers mornings",
    }
    response = front_desk_client.post(url, data)
    assert response.status_code == 422
    html = response.content.decode()
    alternatives = response.context["alternatives"]
    first = alternatives[0]
    local = first.start.astimezone(clinic.location.zone)
    pick = f"{first.provider_id}|{local:%Y-%m-%d}|{local:%H:%M}"
    assert f'form="book-form" name="pick" value="{pick}"' in html and "Book this time" in html
    response = front_desk_client.post(url, {**data, "pick": pick})
    assert response.status_code == 302
    booked = Appointment.objects.get(patient=patient)
    assert booked.start == first.start and booked.provider_id == first.provider_id
    assert booked.staff_note == "Prefers mornings"


def test_a_malformed_pick_is_refused_and_writes_nothing(front_desk_client, clinic, frozen):
    patient = PatientFactory(home_location=clinic.location)
    data = {
        "location": clinic.location.slug,
        "patient": patient.pk,
        "appointment_type": clinic.type.pk,
        "provider": clinic.providers[0].pk,
        "date": TUESDAY.isoformat(),
        "time": "09:30",
        "pick": "1|2026-06-02|9am; drop table",
    }
    response = front_desk_client.post(reverse("scheduling:book"), data)
    assert response.status_code == 422
    assert "couldn't be read" in " ".join(response.context["form"].non_field_errors())
    assert not Appointment.objects.exists()


def test_a_nearest_open_time_moves_with_one_click(front_desk_client, clinic, frozen):
    appt = AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=clinic.type,
        start=at(TUESDAY, 9),
    )
    AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[1],
        operatory=clinic.operatories[1],
        appointment_type=clinic.type,
        start=at(TUESDAY, 14),
    )
    url = reverse("scheduling:move", args=[appt.pk])
    data = {"date": TUESDAY.isoformat(), "time": "14:00", "provider": clinic.providers[1].pk}
    response = front_desk_client.post(url, data)
    assert response.status_code == 422 and "Move here" in response.content.decode()
    first = response.context["alternatives"][0]
    local = first.start.astimezone(clinic.location.zone)
    response = front_desk_client.post(url, {**data, "pick": f"{first.provider_id}|{local:%Y-%m-%d}|{local:%H:%M}"})
    assert response.status_code == 302
    appt.refresh_from_db()
    assert appt.start == first.start


# Feedback and disabled buttons


def test_check_in_and_complete_say_what_happened(front_desk_client, clinic, frozen):
    appt = AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=clinic.type,
        start=at(TUESDAY, 9),
    )
    response = front_desk_client.post(reverse("scheduling:check_in", args=[appt.pk]), follow=True)
    html = response.content.decode()
    assert f"{appt.patient.full_name} checked in at" in html and 'class="flash success"' in html
    assert "Checked in</dt>" in html
    response = front_desk_client.post(reverse("scheduling:complete", args=[appt.pk]), follow=True)
    html = response.content.decode()
    assert "Visit completed at" in html and "Completed</dt>" in html
    response = front_desk_client.post(reverse("scheduling:complete", args=[appt.pk]), follow=True)
    assert 'class="flash error"' in response.content.decode()  # twice: refused, and said so


def test_confirm_hold_is_disabled_with_the_reason_until_identity_is_settled(front_desk_client, clinic, frozen):
    appt = ambiguous_hold(clinic)
    html = front_desk_client.get(reverse("scheduling:appointment", args=[appt.pk])).content.decode()
    assert 'disabled aria-describedby="confirm-why">Confirm hold</button>' in html
    assert "Confirm who this is first" in html
    front_desk_client.post(reverse("scheduling:confirm", args=[appt.pk]))
    assert Appointment.objects.get(pk=appt.pk).status == AppointmentStatus.HOLD
