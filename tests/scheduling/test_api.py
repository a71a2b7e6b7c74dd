from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse

from scheduling.models import Appointment, AppointmentStatus
from scheduling.selectors.availability import online_slots
from tests.billing.factories import PatientFactory
from tests.scheduling.conftest import TUESDAY, at
from tests.scheduling.factories import AppointmentFactory

pytestmark = pytest.mark.django_db


def availability(api_client, clinic, **params):
    query = {"location": clinic.location.slug, "appointment_type": clinic.type.pk, **params}
    return api_client.get(reverse("booking-availability"), query)


def booking_body(clinic, slot, **overrides):
    body = {
        "location": clinic.location.slug,
        "appointment_type": clinic.type.pk,
        "slot": slot,
        "first_name": "Rosa",
        "last_name": "Parks",
        "date_of_birth": "1985-02-04",
        "email": "rosa@example.com",
        "phone": "+12175550199",
    }
    body.update(overrides)
    return body


def test_availability_is_public_and_matches_the_booking_page(api_client, clinic, frozen):
    response = availability(api_client, clinic, **{"from": TUESDAY.isoformat(), "days": 2})
    assert response.status_code == 200
    data = response.json()
    assert data["time_zone"] == "America/Chicago" and len(data["days"]) == 2
    first = data["days"][0]["slots"][0]
    assert first["start"] == "2026-06-02T08:00:00-05:00" and first["provider_name"] == "Dr. Ada Lee"
    same = online_slots(location=clinic.location, appointment_type=clinic.type, first_day=TUESDAY, last_day=TUESDAY)
    assert [s["slot"] for s in data["days"][0]["slots"]] == [s.key for s in same[TUESDAY]]


def test_availability_refuses_bad_parameters_with_field_errors(api_client, clinic, frozen):
    assert "days" in availability(api_client, clinic, days=90).json()
    assert "appointment_type" in availability(api_client, clinic, appointment_type=9999).json()
    assert "from" in availability(api_client, clinic, **{"from": "tomorrow"}).json()
    assert api_client.get(reverse("booking-availability"), {"location": "nowhere"}).status_code == 404


def test_types_lists_only_online_bookable_services(api_client, clinic):
    response = api_client.get(reverse("booking-types"), {"location": clinic.location.slug})
    assert [t["name"] for t in response.json()] == ["Cleaning"]


def test_booking_holds_once_per_idempotency_key_and_answers_taken_with_alternatives(api_client, clinic, frozen):
    slot = availability(api_client, clinic, **{"from": TUESDAY.isoformat(), "days": 1}).json()["days"][0]["slots"][0]
    url = reverse("booking-create")
    first = api_client.post(
        url, booking_body(clinic, slot["slot"]), format="json", HTTP_IDEMPOTENCY_KEY="api-key-000001"
    )
    assert first.status_code == 201 and first.json()["status"] == "held"
    again = api_client.post(
        url, booking_body(clinic, slot["slot"]), format="json", HTTP_IDEMPOTENCY_KEY="api-key-000001"
    )
    assert again.status_code == 200 and again.json()["replayed"] is True
    other = api_client.post(
        url,
        booking_body(clinic, slot["slot"], first_name="Ida", email="ida@example.com", idempotency_key="api-key-000002"),
        format="json",
    )
    assert other.status_code == 409 and other.json()["status"] == "taken"
    assert len(other.json()["alternatives"]) == 3
    assert Appointment.objects.count() == 1


def test_booking_needs_a_key_and_valid_fields(api_client, clinic, frozen):
    url = reverse("booking-create")
    slot = f"{clinic.providers[0].pk}-{int(at(TUESDAY, 9).timestamp())}"
    assert "idempotency_key" in api_client.post(url, booking_body(clinic, slot), format="json").json()
    response = api_client.post(
        url,
        booking_body(clinic, slot, email="nope", phone="1", preferred_channel="none"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="api-key-000003",
    )
    assert response.status_code == 400 and {"email", "phone", "preferred_channel"} <= set(response.json())
    assert not Appointment.objects.exists()


@override_settings(BOOKING_RATE="2/h")
def test_booking_is_rate_limited_per_address(api_client, clinic, frozen):
    url = reverse("booking-create")
    codes = [api_client.post(url, {}, format="json").status_code for _ in range(3)]
    assert codes == [400, 400, 429]


def test_appointments_are_for_staff_only(api_client, clinic):
    assert api_client.get(reverse("appointment-list")).status_code in (401, 403)


def test_staff_list_filter_book_and_confirm(api_client, front_desk, clinic, frozen, monkeypatch):
    from scheduling.selectors import calendar as calendar_selectors

    api_client.force_login(front_desk)
    hold = AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=clinic.type,
        start=at(TUESDAY, 9),
        status=AppointmentStatus.HOLD,
        confirmed_at=None,
    )
    monkeypatch.setattr(calendar_selectors, "membership_status_by_patient", lambda ids: {hold.patient_id: "on_hold"})
    listed = api_client.get(reverse("appointment-list"), {"location": clinic.location.slug, "date": "2026-06-02"})
    assert listed.json()["count"] == 1 and listed.json()["results"][0]["local_start"] == "2026-06-02T09:00:00-05:00"
    assert listed.json()["results"][0]["membership_badge"] == "on hold"
    assert api_client.get(reverse("appointment-list"), {"status": "bogus"}).status_code == 400
    confirmed = api_client.post(reverse("appointment-confirm", args=[hold.pk]))
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    body = {
        "location": clinic.location.slug,
        "appointment_type": clinic.type.pk,
        "provider": clinic.providers[0].pk,
        "patient": PatientFactory().pk,
        "start": "2026-06-02T09:30:00-05:00",
    }
    clash = api_client.post(reverse("appointment-list"), body, format="json")
    assert clash.status_code == 409 and clash.json()["alternatives"]
    booked = api_client.post(reverse("appointment-list"), {**body, "start": "2026-06-02T13:00:00-05:00"}, format="json")
    assert booked.status_code == 201 and booked.json()["status"] == "confirmed"
    moved = api_client.post(
        reverse("appointment-move", args=[booked.json()["id"]]), {"start": "2026-06-02T15:00:00-05:00"}, format="json"
    )
    assert moved.status_code == 200 and moved.json()["local_start"] == "2026-06-02T15:00:00-05:00"
    refused = api_client.post(reverse("appointment-check-in", args=[hold.pk]))
    assert refused.status_code == 200
    assert api_client.post(reverse("appointment-check-in", args=[hold.pk])).status_code == 400


@pytest.mark.parametrize("n", [5, 60])
def test_the_appointment_list_makes_the_same_queries_at_any_size(
    api_client, front_desk, clinic, n, django_assert_num_queries
):
    for i in range(n):
        AppointmentFactory(
            location=clinic.location, appointment_type=clinic.type, start=at(TUESDAY, 8) + timedelta(minutes=i)
        )
    api_client.force_login(front_desk)
    api_client.get(reverse("appointment-list"), {"location": clinic.location.slug})  # warms the practice-zone cache
    # session, user, permissions (2), the location, count, the page (with its joins)
    with django_assert_num_queries(7):
        response = api_client.get(reverse("appointment-list"), {"location": clinic.location.slug})
    assert response.json()["count"] == n


def test_the_openapi_schema_documents_booking_and_appointments(api_client, front_desk):
    api_client.force_login(front_desk)
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/booking/availability/",
        "/api/v1/booking/bookings/",
        "/api/v1/booking/types/",
        "/api/v1/appointments/",
        "/api/v1/appointments/{id}/confirm/",
    ):
        assert path in paths
    assert paths["/api/v1/booking/availability/"]["get"]["security"] == [{}]  # public


# --- Appointments: inputs that used to reach a 500, and the schema agreeing with responses (issue 8) --------
def test_cancel_kind_is_blank_until_cancelled_and_the_schema_allows_it(api_client, front_desk, clinic):
    api_client.force_authenticate(front_desk)
    appt = AppointmentFactory(location=clinic.location, provider=clinic.providers[0], start=at(TUESDAY, 9))
    body = api_client.get(f"/api/v1/appointments/{appt.pk}/").json()
    assert body["cancel_kind"] == ""
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]
    allowed = set()
    for option in schema["Appointment"]["properties"]["cancel_kind"]["oneOf"]:
        allowed |= set(schema[option["$ref"].rsplit("/", 1)[1]]["enum"])
    assert "" in allowed


@pytest.mark.parametrize(
    "params",
    [
        {"provider": "²"},
        {"patient": "١٢٣"},
        {"provider": str(2**64)},
        {"patient": "9" * 5000},
        {"date": ""},
        {"page_size": "x"},
    ],
)
def test_malformed_appointment_filters_are_a_400_naming_them(api_client, front_desk, clinic, params):
    api_client.force_authenticate(front_desk)
    response = api_client.get("/api/v1/appointments/", params)
    assert response.status_code == 400 and set(params) <= set(response.json()), response.content


@pytest.mark.parametrize("reason", [["a list"], {"an": "object"}, 12, "bell\x07", "rtl\u202eoverride"])
@pytest.mark.parametrize("verb", ["cancel", "reject"])
def test_a_reason_must_be_plain_text(api_client, front_desk, clinic, reason, verb):
    api_client.force_authenticate(front_desk)
    appt = AppointmentFactory(
        location=clinic.location, provider=clinic.providers[0], start=at(TUESDAY, 9), status=AppointmentStatus.HOLD
    )
    response = api_client.post(f"/api/v1/appointments/{appt.pk}/{verb}/", {"reason": reason}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    appt.refresh_from_db()
    assert appt.status == AppointmentStatus.HOLD


def test_an_appointment_id_with_a_format_suffix_is_a_json_404(api_client, front_desk, clinic):
    api_client.force_authenticate(front_desk)
    appt = AppointmentFactory(location=clinic.location, provider=clinic.providers[0], start=at(TUESDAY, 9))
    response = api_client.get(f"/api/v1/appointments/{appt.pk}.json")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
