"""Issue 8: a booking for a time in the past, years ahead, or a slot that isn't one is bad input (400 naming
the field, nothing recorded), not a lost race (409 "That time was just taken" with a "taken" request row).
The rule lives in the booking services (validate_start), so the page, the API and staff agree."""

from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.actors import Actor
from billing.models import Patient
from scheduling.models import Appointment, BookingRequest
from scheduling.selectors.availability import parse_slot_key
from scheduling.services.booking import (
    STAFF_MAX_DAYS_AHEAD,
    appointment_book,
    appointment_move,
    appointment_reschedule,
)
from scheduling.services.online import hold_place
from tests.billing.factories import PatientFactory
from tests.scheduling.conftest import NOW, TUESDAY, at, requester
from tests.scheduling.test_api import booking_body
from tests.scheduling.test_public_pages import form_data, page_url

pytestmark = pytest.mark.django_db
STAFF = Actor.system_component("tests")
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
YESTERDAY = date(2026, 5, 31)  # NOW is Monday 1 June 2026, 07:00 in Chicago


def nothing_written() -> bool:
    return not BookingRequest.objects.exists() and not Appointment.objects.exists() and not Patient.objects.exists()


def place(clinic, start, key="key-00000001"):
    return hold_place(
        location=clinic.location,
        appointment_type=clinic.type,
        provider=clinic.providers[0],
        start=start,
        requester=requester(),
        idempotency_key=key,
    )


def slot_key(clinic, start: datetime) -> str:
    return f"{clinic.providers[0].pk}-{int(start.timestamp())}"


# --- the service ---------------------------------------------------------------------------------------------
class TestOnlineTimes:
    def test_a_time_in_the_past_is_refused_naming_start_and_nothing_is_recorded(self, clinic, frozen):
        with pytest.raises(ValidationError) as err:
            place(clinic, at(YESTERDAY, 9))
        assert err.value.message_dict == {"start": ["That time is in the past."]}
        assert nothing_written()

    def test_a_time_beyond_the_how_far_ahead_limit_is_refused_naming_start(self, clinic, frozen):
        with pytest.raises(ValidationError) as err:
            place(clinic, at(TUESDAY + timedelta(days=365 * 3), 9))
        assert "60 days ahead" in err.value.message_dict["start"][0]
        with pytest.raises(ValidationError):  # the first day past the limit, at a time the provider works
            place(clinic, at(date(2026, 6, 1) + timedelta(days=61), 9))
        assert nothing_written()

    def test_the_last_day_inside_the_limit_is_still_bookable(self, clinic, frozen):
        assert place(clinic, at(date(2026, 6, 1) + timedelta(days=60), 9)).held

    def test_a_naive_time_is_refused(self, clinic, frozen):
        with pytest.raises(ValidationError) as err:
            place(clinic, datetime(2026, 6, 2, 9))
        assert "start" in err.value.message_dict and nothing_written()

    @HYPOTHESIS
    @given(
        start=st.one_of(
            st.datetimes(max_value=NOW.replace(tzinfo=None), timezones=st.timezones()),
            st.datetimes(min_value=(NOW + timedelta(days=63)).replace(tzinfo=None), timezones=st.timezones()),
            st.datetimes(timezones=st.just(timezone(timedelta(hours=14)))).filter(
                lambda d: not NOW <= d <= NOW + timedelta(days=63)
            ),
        )
    )
    def test_any_time_outside_the_window_is_a_field_error_never_a_crash_or_taken(self, clinic, frozen, start):
        with pytest.raises(ValidationError) as err:
            place(clinic, start)
        assert set(err.value.message_dict) == {"start"}
        assert nothing_written()


class TestStaffTimes:
    def book(self, clinic, start, **kw):
        return appointment_book(
            location=clinic.location,
            appointment_type=clinic.type,
            provider=clinic.providers[0],
            start=start,
            patient=kw.pop("patient", None) or PatientFactory(),
            by=STAFF,
            **kw,
        )

    def test_staff_cannot_book_a_day_in_the_past_or_years_ahead(self, clinic, frozen):
        with pytest.raises(ValidationError) as err:
            self.book(clinic, at(YESTERDAY, 9))
        assert err.value.message_dict == {"start": ["That time is in the past."]}
        with pytest.raises(ValidationError) as err:
            self.book(clinic, at(TUESDAY + timedelta(days=STAFF_MAX_DAYS_AHEAD + 1), 9))
        assert f"{STAFF_MAX_DAYS_AHEAD} days ahead" in err.value.message_dict["start"][0]
        assert not Appointment.objects.exists()

    def test_staff_may_still_book_earlier_today_and_the_seed_may_backfill(self, clinic, frozen):
        assert self.book(clinic, at(date(2026, 6, 1), 6), override_hours=True).start == at(date(2026, 6, 1), 6)
        assert self.book(clinic, at(YESTERDAY, 9), allow_past=True).start == at(YESTERDAY, 9)

    @HYPOTHESIS
    @given(
        start=st.one_of(
            st.datetimes(max_value=datetime(2026, 5, 31, 4), timezones=st.timezones()),
            st.datetimes(min_value=datetime(2028, 6, 2), timezones=st.timezones()),
        )
    )
    def test_any_staff_time_far_outside_the_calendar_is_a_field_error(self, clinic, frozen, start):
        patient = Patient.objects.first() or PatientFactory()
        with pytest.raises(ValidationError) as err:
            self.book(clinic, start, patient=patient, override_hours=True)
        assert set(err.value.message_dict) == {"start"}
        assert not Appointment.objects.exists()

    def test_moves_and_reschedules_to_the_past_are_refused_and_change_nothing(self, clinic, frozen):
        appt = self.book(clinic, at(TUESDAY, 9))
        with pytest.raises(ValidationError) as err:
            appointment_move(appointment=appt, start=at(YESTERDAY, 9), by=STAFF)
        assert "start" in err.value.message_dict
        with pytest.raises(ValidationError) as err:
            appointment_reschedule(appointment=appt, start=at(YESTERDAY, 9), provider=clinic.providers[0], by=STAFF)
        assert "start" in err.value.message_dict
        with pytest.raises(ValidationError):
            appointment_reschedule(
                appointment=appt, start=datetime(9999, 12, 31, tzinfo=UTC), provider=clinic.providers[0], by=STAFF
            )
        appt.refresh_from_db()
        assert appt.start == at(TUESDAY, 9) and appt.reschedule_count == 0


# --- slot ids ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["1--5", "1-+5", " 1-5", "1-٣٣", "1-5 ", "1-5.0", "-1-5", "1-999999999999", "x", ""])
def test_a_slot_id_is_ascii_digits_only(key):
    assert parse_slot_key(key) is None


def test_a_slot_id_round_trips():
    assert parse_slot_key("12-1780408800") == (12, datetime(2026, 6, 2, 14, tzinfo=UTC))


# --- the API -------------------------------------------------------------------------------------------------
def api_book(api_client, clinic, slot, key="api-key-000001"):
    return api_client.post(
        reverse("booking-create"), booking_body(clinic, slot), format="json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (at(YESTERDAY, 9), "That time is in the past."),
        (at(date(2026, 6, 1), 6), "That time is in the past."),
        (at(date(2029, 6, 5), 9), "We book at most 60 days ahead"),
    ],
)
def test_api_booking_out_of_range_is_400_naming_slot_and_records_nothing(api_client, clinic, frozen, start, message):
    response = api_book(api_client, clinic, slot_key(clinic, start))
    assert response.status_code == 400, response.content
    assert response.json()["slot"][0].startswith(message)
    assert nothing_written()


def test_api_booking_of_a_malformed_slot_is_400_naming_slot(api_client, clinic, frozen):
    for slot in ("1--5", f"{clinic.providers[0].pk}-0", f"{clinic.providers[0].pk}-99999999999", "٣-٣"):
        response = api_book(api_client, clinic, slot)
        assert response.status_code == 400 and "slot" in response.json(), (slot, response.content)
    assert nothing_written()


@override_settings(BOOKING_RATE="100000/h")
@HYPOTHESIS
@given(slot=st.one_of(st.text(max_size=40), st.from_regex(r"\A[0-9]{1,20}-[0-9]{1,20}\Z")))
def test_api_booking_of_any_malformed_slot_is_400_and_records_nothing(api_client, clinic, frozen, slot):
    response = api_book(api_client, clinic, slot)
    # A string that happens to name a real open slot books it; everything else is bad input.
    assert response.status_code in (400, 201), response.content
    if response.status_code == 400:
        assert "slot" in response.json()
    Appointment.objects.all().delete()
    BookingRequest.objects.all().delete()


@override_settings(BOOKING_RATE="100000/h")
@HYPOTHESIS
@given(ts=st.one_of(st.integers(0, int(NOW.timestamp())), st.integers(int(NOW.timestamp()) + 63 * 86400, 10**11 - 1)))
def test_api_booking_of_a_slot_outside_the_window_is_400_never_409(api_client, clinic, frozen, ts):
    response = api_book(api_client, clinic, f"{clinic.providers[0].pk}-{ts}")
    assert response.status_code == 400 and "slot" in response.json(), response.content
    assert nothing_written()


def test_staff_api_booking_of_year_one_is_a_400(api_client, front_desk, clinic, frozen):
    api_client.force_login(front_desk)
    body = {
        "location": clinic.location.slug,
        "appointment_type": clinic.type.pk,
        "provider": clinic.providers[0].pk,
        "patient": PatientFactory().pk,
    }
    for start in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "2026-05-01T09:00:00-05:00"):
        response = api_client.post(reverse("appointment-list"), {**body, "start": start}, format="json")
        assert response.status_code == 400 and "start" in response.json(), (start, response.content)
    assert not Appointment.objects.exists()


# --- the public page -----------------------------------------------------------------------------------------
def page_post(client, clinic, slot: str, **overrides):
    return client.post(page_url(clinic), form_data(clinic, SimpleNamespace(key=slot), **overrides))


@pytest.mark.parametrize(
    ("start", "message"),
    [(at(YESTERDAY, 9), b"That time is in the past."), (at(date(2029, 6, 5), 9), b"We book at most 60 days ahead")],
)
def test_the_page_shows_a_time_error_keeps_the_input_and_records_nothing(client, clinic, frozen, start, message):
    response = page_post(client, clinic, slot_key(clinic, start))
    assert response.status_code == 422
    assert "slot" in response.context["form"].errors
    assert b'id="slot-error"' in response.content and message in response.content
    assert b"just taken" not in response.content and b'value="Rosa"' in response.content
    assert nothing_written()


def test_the_page_calls_a_malformed_slot_not_a_valid_time(client, clinic, frozen):
    response = page_post(client, clinic, "1--5")
    assert response.status_code == 422 and b"Not a valid time" in response.content
    assert nothing_written()


@override_settings(BOOKING_RATE="100000/h")
@HYPOTHESIS
@given(slot=st.one_of(st.text(max_size=40), st.from_regex(r"\A[0-9]{1,20}-[0-9]{1,20}\Z")))
def test_the_page_answers_any_malformed_slot_with_a_form_error(client, clinic, frozen, slot):
    response = page_post(client, clinic, slot)
    # A string that happens to name a real open slot books it (a redirect); everything else is a form error.
    assert response.status_code in (422, 302), response.status_code
    if response.status_code == 422:
        assert response.context["form"].errors and b"just taken" not in response.content
    Appointment.objects.all().delete()
    BookingRequest.objects.all().delete()
    Patient.objects.all().delete()
