"""Issue 8: a patient is in one chair at a time. The provider and operatory constraints never looked at the
patient, so the same person could be booked at two overlapping times at two locations. Online (page, API,
manage link) that is refused without saying where; staff are warned with the clashing visit and may
"Book anyway"."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from billing.actors import Actor
from scheduling.models import Appointment, AppointmentStatus, BookingRequest
from scheduling.selectors.calendar import patient_overlapping_appointments
from scheduling.services.booking import (
    PatientOverlap,
    appointment_book,
    appointment_move,
    appointment_reschedule,
)
from scheduling.services.online import hold_place
from tests.billing.factories import LocationFactory, PatientFactory
from tests.scheduling.conftest import TUESDAY, at, requester
from tests.scheduling.factories import (
    AppointmentFactory,
    OperatoryFactory,
    ProviderFactory,
    WorkingHoursFactory,
)
from tests.scheduling.test_api import booking_body
from tests.scheduling.test_public_pages import form_data, page_url

pytestmark = pytest.mark.django_db
STAFF = Actor.system_component("tests")


@pytest.fixture
def northside(clinic):
    """A second location across town with its own provider and room."""
    location = LocationFactory(slug="northside", name="Northside Dental", time_zone="America/Chicago")
    provider = ProviderFactory(name="Dr. Cy North", sort_order=3)
    for weekday in range(7):
        WorkingHoursFactory(provider=provider, location=location, weekday=weekday)
    OperatoryFactory(location=location, name="N1")
    return SimpleNamespace(location=location, provider=provider)


@pytest.fixture
def rosa(db):
    return PatientFactory(
        first_name="Rosa",
        last_name="Parks",
        date_of_birth=date(1985, 2, 4),
        email="rosa@example.com",
        phone="+12175550199",
    )


@pytest.fixture
def rosa_at_northside(clinic, northside, rosa, frozen):
    """Rosa's confirmed 9:00-10:00 visit at the other location on Tuesday."""
    return appointment_book(
        location=northside.location,
        appointment_type=clinic.type,
        provider=northside.provider,
        start=at(TUESDAY, 9),
        patient=rosa,
        by=STAFF,
    )


def staff_book(clinic, patient, start, **kw):
    return appointment_book(
        location=clinic.location,
        appointment_type=clinic.type,
        start=start,
        patient=patient,
        by=STAFF,
        **{"provider": clinic.providers[0], **kw},
    )


# --- the selector --------------------------------------------------------------------------------------------
def test_the_selector_finds_active_visits_and_live_holds_at_any_location(clinic, northside, rosa, frozen):
    def appt(start, status=AppointmentStatus.CONFIRMED, location=None, **kw):
        location = location or clinic.location
        return AppointmentFactory(
            location=location,
            operatory=OperatoryFactory(location=location),
            provider=ProviderFactory(),
            appointment_type=clinic.type,
            patient=rosa,
            start=start,
            status=status,
            **kw,
        )

    elsewhere = appt(at(TUESDAY, 9), location=northside.location)
    hold = appt(at(TUESDAY, 9, 30), status=AppointmentStatus.HOLD)
    appt(at(TUESDAY, 9), status=AppointmentStatus.CANCELLED)
    appt(at(TUESDAY, 9), status=AppointmentStatus.EXPIRED)
    appt(at(TUESDAY, 10, 30))  # starts when the asked-for visit ends: back to back is fine
    AppointmentFactory(location=clinic.location, appointment_type=clinic.type, start=at(TUESDAY, 9))  # someone else
    found = patient_overlapping_appointments(patient=rosa, start=at(TUESDAY, 9, 30), end=at(TUESDAY, 10, 30))
    assert found == [elsewhere, hold]
    assert patient_overlapping_appointments(
        patient=rosa, start=at(TUESDAY, 9, 30), end=at(TUESDAY, 10, 30), exclude=hold
    ) == [elsewhere]
    assert patient_overlapping_appointments(patient=None, start=at(TUESDAY, 9), end=at(TUESDAY, 10)) == []


# --- staff -----------------------------------------------------------------------------------------------------
def test_staff_booking_over_the_patients_other_visit_warns_with_it_and_writes_nothing(
    clinic, northside, rosa, rosa_at_northside, frozen
):
    with pytest.raises(PatientOverlap) as err:
        staff_book(clinic, rosa, at(TUESDAY, 9, 30))
    assert err.value.clashes == [rosa_at_northside]
    message = err.value.message_dict["patient"][0]
    assert "Rosa Parks already has an appointment then" in message
    assert "09:00-10:00" in message and "Northside Dental" in message and "Dr. Cy North" in message
    assert Appointment.objects.count() == 1


def test_staff_may_book_anyway_after_confirming(clinic, northside, rosa, rosa_at_northside, frozen):
    appt = staff_book(clinic, rosa, at(TUESDAY, 9, 30), confirm_patient_overlap=True)
    assert appt.status == AppointmentStatus.CONFIRMED and Appointment.objects.count() == 2


def test_another_patient_or_a_later_time_does_not_warn(clinic, northside, rosa, rosa_at_northside, frozen):
    staff_book(clinic, PatientFactory(), at(TUESDAY, 9, 30))
    staff_book(clinic, rosa, at(TUESDAY, 10, 30), provider=clinic.providers[1])


def test_a_staff_move_onto_the_patients_other_visit_warns_and_changes_nothing(
    clinic, northside, rosa, rosa_at_northside, frozen
):
    appt = staff_book(clinic, rosa, at(TUESDAY, 13))
    with pytest.raises(PatientOverlap) as err:
        appointment_move(appointment=appt, start=at(TUESDAY, 9), by=STAFF)
    assert err.value.clashes == [rosa_at_northside]
    appt.refresh_from_db()
    assert appt.start == at(TUESDAY, 13)
    appointment_move(appointment=appt, start=at(TUESDAY, 13, 30), by=STAFF)  # over its own old time: fine
    moved = appointment_move(appointment=appt, start=at(TUESDAY, 9), by=STAFF, confirm_patient_overlap=True)
    assert moved.start == at(TUESDAY, 9)


# --- online ----------------------------------------------------------------------------------------------------
def test_online_a_known_patient_already_booked_then_is_refused_without_details(
    clinic, northside, rosa, rosa_at_northside, frozen
):
    with pytest.raises(ValidationError) as err:
        hold_place(
            location=clinic.location,
            appointment_type=clinic.type,
            provider=clinic.providers[0],
            start=at(TUESDAY, 9, 30),
            requester=requester(),
            idempotency_key="key-overlap-1",
        )
    message = err.value.message_dict["start"][0]
    assert "already have a visit" in message
    assert "Northside" not in message and "North" not in message and "9:00" not in message
    assert not BookingRequest.objects.exists() and Appointment.objects.count() == 1


def test_a_patient_reschedule_onto_their_other_visit_is_refused(clinic, northside, rosa, rosa_at_northside, frozen):
    appt = staff_book(clinic, rosa, at(TUESDAY, 13))
    with pytest.raises(ValidationError) as err:
        appointment_reschedule(appointment=appt, start=at(TUESDAY, 9), provider=clinic.providers[0], by=STAFF)
    assert "already have a visit" in err.value.message_dict["start"][0]
    appt.refresh_from_db()
    assert appt.start == at(TUESDAY, 13) and appt.status == AppointmentStatus.CONFIRMED


def test_the_api_refuses_an_overlapping_booking_with_400_naming_slot(
    api_client, clinic, northside, rosa, rosa_at_northside, frozen
):
    slot = f"{clinic.providers[0].pk}-{int(at(TUESDAY, 9, 30).timestamp())}"
    response = api_client.post(
        reverse("booking-create"), booking_body(clinic, slot), format="json", HTTP_IDEMPOTENCY_KEY="api-overlap-01"
    )
    assert response.status_code == 400
    assert "already have a visit" in response.json()["slot"][0] and "Northside" not in response.content.decode()
    assert not BookingRequest.objects.exists() and Appointment.objects.count() == 1


def test_the_public_page_refuses_an_overlapping_booking_and_keeps_the_input(
    client, clinic, northside, rosa, rosa_at_northside, frozen
):
    slot = SimpleNamespace(key=f"{clinic.providers[0].pk}-{int(at(TUESDAY, 9, 30).timestamp())}")
    response = client.post(page_url(clinic), form_data(clinic, slot, idempotency_key="form-overlap-01"))
    assert response.status_code == 422
    html = response.content.decode()
    assert "already have a visit with us at that time" in html and 'value="Rosa"' in html
    assert "Northside" not in html and "Cy North" not in html
    assert not BookingRequest.objects.exists() and Appointment.objects.count() == 1


def test_the_staff_api_answers_400_naming_patient_then_books_when_confirmed(
    api_client, front_desk, clinic, northside, rosa, rosa_at_northside, frozen
):
    api_client.force_login(front_desk)
    body = {
        "location": clinic.location.slug,
        "appointment_type": clinic.type.pk,
        "provider": clinic.providers[0].pk,
        "patient": rosa.pk,
        "start": "2026-06-02T09:30:00-05:00",
    }
    refused = api_client.post(reverse("appointment-list"), body, format="json")
    assert refused.status_code == 400 and "Northside Dental" in refused.json()["patient"][0]
    booked = api_client.post(reverse("appointment-list"), {**body, "confirm_patient_overlap": True}, format="json")
    assert booked.status_code == 201
    assert Appointment.objects.count() == 2


# --- the console form ------------------------------------------------------------------------------------------
def test_the_console_form_warns_with_the_clash_keeps_the_input_and_books_anyway_when_ticked(
    front_desk_client, clinic, northside, rosa, rosa_at_northside, frozen
):
    url = reverse("scheduling:book") + f"?location={clinic.location.slug}&patient={rosa.pk}"
    data = {
        "location": clinic.location.slug,
        "patient": rosa.pk,
        "appointment_type": clinic.type.pk,
        "provider": clinic.providers[0].pk,
        "date": TUESDAY.isoformat(),
        "time": "09:30",
        "note": "Bring X-rays",
    }
    response = front_desk_client.post(url, data)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="patient-overlap"' in html and "Rosa Parks already has an appointment then" in html
    assert "09:00–10:00" in html and "Northside Dental" in html and "Dr. Cy North" in html
    assert 'name="confirm_patient_overlap"' in html and "Book anyway" in html
    assert 'value="Bring X-rays"' in html and 'value="09:30' in html
    assert Appointment.objects.count() == 1

    response = front_desk_client.post(url, {**data, "confirm_patient_overlap": "on"})
    assert response.status_code == 302
    assert Appointment.objects.filter(location=clinic.location, patient=rosa, start=at(TUESDAY, 9, 30)).exists()


def test_the_console_move_form_warns_before_moving_onto_the_patients_other_visit(
    front_desk_client, clinic, northside, rosa, rosa_at_northside, frozen
):
    appt = staff_book(clinic, rosa, at(TUESDAY, 13))
    url = reverse("scheduling:move", args=[appt.pk])
    data = {"date": TUESDAY.isoformat(), "time": "09:00", "provider": clinic.providers[0].pk}
    response = front_desk_client.post(url, data)
    assert response.status_code == 422 and b'id="patient-overlap"' in response.content
    appt.refresh_from_db()
    assert appt.start == at(TUESDAY, 13)
    assert front_desk_client.post(url, {**data, "confirm_patient_overlap": "on"}).status_code == 302
    appt.refresh_from_db()
    assert appt.start == at(TUESDAY, 9)


def test_a_staff_time_error_lands_on_the_date_field(front_desk_client, clinic, rosa, frozen):
    url = reverse("scheduling:book") + f"?location={clinic.location.slug}&patient={rosa.pk}"
    response = front_desk_client.post(
        url,
        {
            "location": clinic.location.slug,
            "patient": rosa.pk,
            "appointment_type": clinic.type.pk,
            "provider": clinic.providers[0].pk,
            "date": (TUESDAY - timedelta(days=30)).isoformat(),
            "time": "09:00",
        },
    )
    assert response.status_code == 422
    assert response.context["form"].errors["date"] == ["That time is in the past."]
    assert not Appointment.objects.exists()
