"""The public booking pages: rendering, input errors, abuse guards, signed links. Rules are tested on the
services (test_booking.py); here the view's job: permission-free access, errors, nothing leaked."""

import re
from datetime import date, timedelta

import pytest
import time_machine
from django.core import mail, signing
from django.test import override_settings
from django.urls import reverse

from billing.models import Patient, StaffTask
from scheduling import links
from scheduling.models import Appointment, AppointmentStatus, AsapRequest, BookingRequest
from scheduling.selectors.availability import online_slots
from tests.billing.factories import PatientFactory
from tests.scheduling.conftest import TUESDAY, at

pytestmark = pytest.mark.django_db


def page_url(clinic, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("booking:page", args=[clinic.location.slug]) + (f"?{query}" if query else "")


def first_slot(clinic, day=TUESDAY):
    return online_slots(location=clinic.location, appointment_type=clinic.type, first_day=day, last_day=day)[day][0]


def form_data(clinic, slot, **overrides):
    data = {
        "type": clinic.type.pk,
        "slot": slot.key,
        "idempotency_key": "form-key-00001",
        "first_name": "Rosa",
        "last_name": "Parks",
        "date_of_birth": "1985-02-04",
        "email": "rosa@example.com",
        "phone": "217-555-0199",
        "preferred_channel": "email",
        "note": "",
        "website": "",
    }
    data.update(overrides)
    return data


def submit(client, clinic, slot, **overrides):
    return client.post(page_url(clinic), form_data(clinic, slot, **overrides))


def manage_link_from_outbox() -> str:
    body = mail.outbox[-1].body
    return re.search(r"http://testserver(/book/manage/[^\s]+/)", body).group(1)


def test_the_service_day_and_time_steps_render_without_login(client, clinic, frozen):
    response = client.get(page_url(clinic))
    assert response.status_code == 200 and b"Cleaning" in response.content
    response = client.get(page_url(clinic, type=clinic.type.pk))
    assert response.status_code == 200
    # Today (Monday, 7:00 now) is the first day with times; with two hours' notice they start at 9:00.
    assert response.context["day"] == date(2026, 6, 1)
    assert b"9:00 AM" in response.content and b"8:45 AM" not in response.content and b"Dr. Ada Lee" in response.content
    response = client.get(page_url(clinic, type=clinic.type.pk, day=TUESDAY.isoformat()))
    assert b"Tuesday, June 2" in response.content and b"8:00 AM" in response.content
    slot = first_slot(clinic)
    response = client.get(page_url(clinic, type=clinic.type.pk, slot=slot.key))
    assert response.status_code == 200
    assert b'name="idempotency_key"' in response.content and b'class="hp"' in response.content


def test_types_not_bookable_online_are_not_offered(client, clinic, frozen):
    clinic.type.online_bookable = False
    clinic.type.save()
    response = client.get(page_url(clinic))
    assert b"Cleaning" not in response.content
    assert client.get(page_url(clinic, type=clinic.type.pk)).context["type"] is None


def test_an_unknown_or_inactive_location_is_not_found(client, clinic):
    assert client.get(reverse("booking:page", args=["nowhere"])).status_code == 404
    clinic.location.is_active = False
    clinic.location.save()
    assert client.get(page_url(clinic)).status_code == 404


def test_submitting_holds_the_time_and_shows_only_what_was_typed(
    client, clinic, frozen, django_capture_on_commit_callbacks
):
    slot = first_slot(clinic)
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client, clinic, slot)
    assert response.status_code == 302 and "/book/received/" in response["Location"]
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"Request received" in page.content and b"Tuesday, June 2" in page.content
    assert Appointment.objects.get().status == AppointmentStatus.HOLD
    assert mail.outbox[0].to == ["rosa@example.com"]


def test_a_linked_chart_is_never_shown_to_the_visitor(client, clinic, frozen, django_capture_on_commit_callbacks):
    PatientFactory(
        first_name="Rosa",
        last_name="Parks",
        date_of_birth=date(1985, 2, 4),
        email="rosa.real@example.com",
        phone="+12175550199",
        preferred_name="Ro",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client, clinic, first_slot(clinic), email="someone.else@example.com")
    page = client.get(response["Location"])
    assert b"rosa.real" not in page.content and b"Ro&quot;" not in page.content
    # The confirmation goes where the visitor asked (issue 8), greeting them by the name they typed; the
    # chart keeps its address until staff accept the new one (a task asks them).
    assert mail.outbox[0].to == ["someone.else@example.com"]
    assert "Ro," not in mail.outbox[0].body and "rosa.real" not in mail.outbox[0].body
    assert Patient.objects.get().email == "rosa.real@example.com"
    assert StaffTask.objects.filter(kind="scheduling.contact_changed", status="open").count() == 1


def test_bad_input_shows_errors_next_to_the_fields_keeps_the_input_and_writes_nothing(client, clinic, frozen):
    response = submit(client, clinic, first_slot(clinic), email="nope", date_of_birth="2031-01-01", phone="12")
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert set(errors) >= {"email", "date_of_birth", "phone"}
    assert b'value="Rosa"' in response.content
    assert not Appointment.objects.exists() and not BookingRequest.objects.exists()


def test_a_taken_time_answers_409_with_alternatives_to_pick_and_the_input_kept(client, clinic, frozen):
    slot = first_slot(clinic)
    submit(client, clinic, slot, idempotency_key="first-visitor-1", email="first@example.com", first_name="Ida")
    response = submit(client, clinic, slot, idempotency_key="second-visitor-1")
    assert response.status_code == 409
    assert b"just taken" in response.content and b'value="Rosa"' in response.content
    assert len(response.context["alternatives"]) == 3
    assert response.context["form"]["idempotency_key"].value() != "second-visitor-1"  # a fresh key for the retry


def test_a_double_submit_makes_one_hold(client, clinic, frozen):
    slot = first_slot(clinic)
    first = submit(client, clinic, slot)
    second = submit(client, clinic, slot)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Appointment.objects.count() == 1


def test_the_honeypot_answers_like_success_and_writes_nothing(client, clinic, frozen):
    response = submit(client, clinic, first_slot(clinic), website="http://spam.example")
    assert response.status_code == 302 and response["Location"].endswith("/thanks/")
    assert not Appointment.objects.exists() and not BookingRequest.objects.exists() and not Patient.objects.exists()


@override_settings(BOOKING_RATE="3/h")
def test_submissions_are_rate_limited_per_address(client, clinic, frozen):
    slot = first_slot(clinic)
    codes = [submit(client, clinic, slot, email="bad").status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]


class TestManageLinks:
    @pytest.fixture
    def booked(self, client, clinic, frozen, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            submit(client, clinic, first_slot(clinic))
        return Appointment.objects.get()

    def test_the_link_shows_the_visit_and_can_cancel_it(self, client, booked, django_capture_on_commit_callbacks):
        url = manage_link_from_outbox()
        page = client.get(url)
        assert page.status_code == 200 and b"Waiting for the practice to confirm" in page.content
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"action": "cancel", "reason": "Can't make it"})
        assert response.status_code == 302
        booked.refresh_from_db()
        assert booked.status == AppointmentStatus.CANCELLED and booked.cancel_kind == "patient"
        assert b"Cancelled" in client.get(url).content

    def test_the_link_can_reschedule_and_a_taken_time_changes_nothing(self, client, clinic, booked):
        url = manage_link_from_outbox()
        page = client.get(url + "reschedule/")
        assert page.status_code == 200
        new = online_slots(
            location=clinic.location,
            appointment_type=clinic.type,
            first_day=TUESDAY + timedelta(days=1),
            last_day=TUESDAY + timedelta(days=1),
        )
        target = new[TUESDAY + timedelta(days=1)][4]
        response = client.post(url + "reschedule/", {"slot": target.key})
        assert response.status_code == 302
        booked.refresh_from_db()
        assert booked.start == target.start and booked.status == AppointmentStatus.HOLD
        from tests.scheduling.factories import AppointmentFactory

        blocker = AppointmentFactory(
            location=clinic.location,
            provider=booked.provider,
            operatory=clinic.operatories[1],
            appointment_type=clinic.type,
            start=at(TUESDAY, 15),
        )
        response = client.post(url + "reschedule/", {"slot": f"{booked.provider_id}-{int(blocker.start.timestamp())}"})
        assert response.status_code == 409 and b"just taken" in response.content
        booked.refresh_from_db()
        assert booked.start == target.start

    def test_the_patient_can_join_the_early_list(self, client, booked):
        url = manage_link_from_outbox()
        client.post(url, {"action": "asap"})
        assert AsapRequest.objects.get().appointment == booked
        assert b"on our early list" in client.get(url).content

    def test_a_tampered_link_is_refused(self, client, booked):
        url = manage_link_from_outbox()
        assert client.get(url.replace("/manage/", "/manage/x")).status_code == 404
        forged = links.make_token("scheduling.something-else", booked.pk)
        assert client.get(reverse("booking:manage", args=[forged])).status_code == 404

    def test_a_link_made_for_another_purpose_is_refused(self, client, booked):
        received = links.make_token(links.REQUEST_RECEIVED, booked.pk)
        assert client.get(reverse("booking:manage", args=[received])).status_code == 404
        manage = links.make_token(links.MANAGE, booked.pk)
        assert client.get(reverse("booking:asap_offer", args=[manage])).status_code == 404

    def test_an_old_link_has_expired(self, client, booked):
        url = manage_link_from_outbox()
        with time_machine.travel(booked.created_at + timedelta(days=121)):
            response = client.get(url)
        assert response.status_code == 410 and b"expired" in response.content

    def test_a_signature_from_another_secret_is_refused(self, client, booked):
        token = signing.TimestampSigner(key="not-our-secret", salt=links.MANAGE).sign_object({"id": booked.pk})
        assert client.get(reverse("booking:manage", args=[token])).status_code == 404
