from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing.actors import Actor
from billing.models import AuditEvent, Message, Patient, StaffTask
from scheduling.models import Appointment, AppointmentStatus, BookingOutcome, BookingRequest, IdentityOutcome
from scheduling.selectors.availability import online_slots
from scheduling.services.booking import (
    SlotTaken,
    appointment_book,
    appointment_move,
    appointment_reschedule,
)
from scheduling.services.identity import normalize_name
from scheduling.services.online import hold_place
from tests.billing.factories import PatientFactory, UserFactory
from tests.conftest import postgres_only
from tests.scheduling.conftest import TUESDAY, at, requester
from tests.scheduling.factories import AppointmentFactory

pytestmark = pytest.mark.django_db
STAFF = Actor.system_component("tests")


def place(clinic, *, start=None, provider=None, key="key-00000001", **who):
    return hold_place(
        location=clinic.location,
        appointment_type=clinic.type,
        provider=provider or clinic.providers[0],
        start=start or at(TUESDAY, 9),
        requester=requester(**who),
        idempotency_key=key,
    )


class TestHoldPlace:
    def test_a_new_person_gets_a_chart_a_tentative_hold_and_a_message(
        self, clinic, frozen, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            result = place(clinic)
        assert result.held and not result.replayed
        appt = result.appointment
        assert appt.status == AppointmentStatus.HOLD and appt.source == "online"
        assert (appt.start, appt.end) == (at(TUESDAY, 9), at(TUESDAY, 10))
        assert (appt.occupied_start, appt.occupied_end) == (at(TUESDAY, 9), at(TUESDAY, 10, 10))
        assert appt.operatory == clinic.operatories[0]
        patient = appt.patient
        assert (patient.first_name, patient.email, patient.phone) == ("Rosa", "rosa@example.com", "+12175550199")
        assert patient.home_location == clinic.location
        assert result.request.identity == IdentityOutcome.CREATED
        assert AuditEvent.objects.filter(verb="appointment.hold_placed", target_id=str(appt.pk)).exists()
        message = Message.objects.get(template="scheduling/hold_received")
        assert message.patient == patient
        assert "/book/manage/" in message.body and "9:00 AM" in message.body
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["rosa@example.com"]

    def test_an_existing_patient_is_linked_by_name_birth_date_and_phone(self, clinic, frozen):
        known = PatientFactory(
            first_name="Rosa", last_name="Parks", date_of_birth=date(1985, 2, 4), phone="+12175550199", email=""
        )
        result = place(clinic, first_name="  rosa ", last_name="PARKS", email="other@example.com")
        assert result.appointment.patient == known
        assert result.request.identity == IdentityOutcome.LINKED
        assert Patient.objects.count() == 1
        # The message goes to the chart's own contact, not to whatever address the form was given.
        assert Message.objects.get(template="scheduling/hold_received").patient == known

    def test_accents_case_and_punctuation_do_not_decide_identity(self):
        assert normalize_name(" José-Luis ") == normalize_name("jose luis") == "joseluis"
        assert normalize_name("O'Neil") == normalize_name("ONeil")

    def test_same_name_and_birth_date_with_other_contact_details_is_ambiguous(self, clinic, frozen):
        PatientFactory(first_name="Rosa", last_name="Parks", date_of_birth=date(1985, 2, 4), email="old@example.com")
        result = place(clinic)
        assert result.held
        assert result.appointment.patient is None
        assert result.request.identity == IdentityOutcome.AMBIGUOUS
        assert Patient.objects.count() == 1  # never a silent duplicate chart
        task = StaffTask.objects.get(kind="scheduling.identity")
        assert task.context["appointment"] == result.appointment.pk
        # Without a chart the message goes to the address typed on the request.
        assert Message.objects.get(template="scheduling/hold_received").to == "rosa@example.com"

    def test_two_charts_matching_fully_is_ambiguous(self, clinic, frozen):
        for _ in range(2):
            PatientFactory(
                first_name="Rosa", last_name="Parks", date_of_birth=date(1985, 2, 4), email="rosa@example.com"
            )
        result = place(clinic)
        assert result.request.identity == IdentityOutcome.AMBIGUOUS
        assert len(result.request.candidate_patient_ids) == 2

    def test_same_birth_date_and_email_under_a_new_last_name_is_ambiguous(self, clinic, frozen):
        PatientFactory(
            first_name="Rosa", last_name="McCauley", date_of_birth=date(1985, 2, 4), email="rosa@example.com"
        )
        assert place(clinic).request.identity == IdentityOutcome.AMBIGUOUS

    def test_someone_else_born_the_same_day_is_not_a_match(self, clinic, frozen):
        PatientFactory(first_name="Ida", last_name="Wells", date_of_birth=date(1985, 2, 4))
        assert place(clinic).request.identity == IdentityOutcome.CREATED

    def test_a_note_opens_a_task_for_the_front_desk(self, clinic, frozen):
        result = place(clinic, note="Wheelchair access please")
        task = StaffTask.objects.get(kind="scheduling.note")
        assert task.detail == "Wheelchair access please"
        assert task.patient == result.appointment.patient

    def test_a_double_submit_with_one_key_makes_one_hold(self, clinic, frozen):
        first = place(clinic)
        second = place(clinic)
        assert second.replayed and second.appointment == first.appointment
        assert Appointment.objects.count() == 1 and BookingRequest.objects.count() == 1
        assert Message.objects.count() == 1

    def test_a_taken_time_answers_taken_with_the_nearest_alternatives(self, clinic, frozen):
        for provider, op in zip(clinic.providers, clinic.operatories, strict=True):
            AppointmentFactory(
                location=clinic.location,
                provider=provider,
                operatory=op,
                appointment_type=clinic.type,
                start=at(TUESDAY, 9),
            )
        result = place(clinic)
        assert result.outcome == BookingOutcome.TAKEN
        assert result.request.outcome == BookingOutcome.TAKEN
        assert len(result.alternatives) == 3
        assert all(a.start != at(TUESDAY, 9) for a in result.alternatives)
        assert Patient.objects.filter(first_name="Rosa").count() == 0  # no chart for a request that failed
        assert not Message.objects.filter(template="scheduling/hold_received").exists()

    def test_a_time_inside_the_minimum_notice_is_not_held(self, clinic, frozen):
        result = place(clinic, start=at(date(2026, 6, 1), 8))  # an hour from "now"
        assert result.outcome == BookingOutcome.TAKEN

    def test_a_time_outside_working_hours_is_not_held(self, clinic, frozen):
        assert place(clinic, start=at(TUESDAY, 18)).outcome == BookingOutcome.TAKEN
        assert place(clinic, start=at(TUESDAY, 9, 7), key="key-00000002").outcome == BookingOutcome.TAKEN  # off-grid

    def test_a_new_patient_cannot_book_a_type_for_existing_patients(self, clinic, frozen):
        clinic.type.new_patients_allowed = False
        clinic.type.save()
        with pytest.raises(ValidationError) as err:
            place(clinic)
        assert "appointment_type" in err.value.message_dict
        assert not Appointment.objects.exists() and not Patient.objects.exists()

    def test_a_type_that_is_not_online_is_refused(self, clinic, frozen):
        clinic.type.online_bookable = False
        clinic.type.save()
        with pytest.raises(ValidationError) as err:
            place(clinic)
        assert "appointment_type" in err.value.message_dict

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("email", "not-an-email"),
            ("phone", "12"),
            ("date_of_birth", date(2030, 1, 1)),
            ("first_name", "R0sa"),
            ("last_name", ""),
            ("note", "x" * 501),
            ("note", "call me \u202eplease"),  # a right-to-left override hides what staff would read
            ("first_name", "Ro\u200bsa"),  # a zero-width space
            ("last_name", "Lee\x07"),  # BEL
        ],
    )
    def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(self, clinic, frozen, field, value):
        with pytest.raises(ValidationError) as err:
            place(clinic, **{field: value})
        assert field in err.value.message_dict
        assert not Appointment.objects.exists() and not BookingRequest.objects.exists()


class TestStaffBooking:
    def test_staff_book_a_confirmed_appointment_through_the_same_checks(self, clinic, frozen):
        user = UserFactory()
        patient = PatientFactory()
        appt = appointment_book(
            location=clinic.location,
            appointment_type=clinic.type,
            provider=clinic.providers[0],
            start=at(TUESDAY, 9),
            patient=patient,
            by=Actor.of(user),
        )
        assert appt.status == AppointmentStatus.CONFIRMED and appt.booked_by == user
        with pytest.raises(SlotTaken) as err:
            appointment_book(
                location=clinic.location,
                appointment_type=clinic.type,
                provider=clinic.providers[0],
                start=at(TUESDAY, 9, 30),
                patient=PatientFactory(),
                by=STAFF,
            )
        assert err.value.alternatives

    def test_a_squeeze_in_may_ignore_hours_but_never_another_appointment(self, clinic, frozen):
        early = appointment_book(
            location=clinic.location,
            appointment_type=clinic.type,
            provider=clinic.providers[0],
            start=at(TUESDAY, 7),
            patient=PatientFactory(),
            by=STAFF,
            override_hours=True,
        )
        assert early.start == at(TUESDAY, 7)
        with pytest.raises(SlotTaken):
            appointment_book(
                location=clinic.location,
                appointment_type=clinic.type,
                provider=clinic.providers[0],
                start=at(TUESDAY, 7, 30),
                patient=PatientFactory(),
                by=STAFF,
                override_hours=True,
            )
        with pytest.raises(SlotTaken):
            appointment_book(
                location=clinic.location,
                appointment_type=clinic.type,
                provider=clinic.providers[1],
                start=at(TUESDAY, 7),
                patient=PatientFactory(),
                by=STAFF,
            )  # outside hours without the override

    def test_a_chosen_operatory_must_be_free(self, clinic, frozen):
        AppointmentFactory(
            location=clinic.location,
            provider=clinic.providers[1],
            operatory=clinic.operatories[0],
            appointment_type=clinic.type,
            start=at(TUESDAY, 9),
        )
        with pytest.raises(SlotTaken):
            appointment_book(
                location=clinic.location,
                appointment_type=clinic.type,
                provider=clinic.providers[0],
                start=at(TUESDAY, 9),
                operatory=clinic.operatories[0],
                patient=PatientFactory(),
                by=STAFF,
            )
        appt = appointment_book(
            location=clinic.location,
            appointment_type=clinic.type,
            provider=clinic.providers[0],
            start=at(TUESDAY, 9),
            patient=PatientFactory(),
            by=STAFF,
        )
        assert appt.operatory == clinic.operatories[1]


class TestMoves:
    def _booked(self, clinic, hour=9, provider=0):
        return appointment_book(
            location=clinic.location,
            appointment_type=clinic.type,
            provider=clinic.providers[provider],
            start=at(TUESDAY, hour),
            patient=PatientFactory(),
            by=STAFF,
        )

    def test_a_move_takes_the_new_time_and_frees_the_old_in_one_step(self, clinic, frozen):
        appt = self._booked(clinic)
        moved = appointment_move(appointment=appt, start=at(TUESDAY, 14), by=STAFF)
        assert moved.start == at(TUESDAY, 14) and moved.status == AppointmentStatus.CONFIRMED
        assert Appointment.objects.count() == 1
        lee = clinic.providers[0]
        open_now = [
            s.start
            for s in online_slots(
                location=clinic.location, appointment_type=clinic.type, first_day=TUESDAY, last_day=TUESDAY
            )[TUESDAY]
            if s.provider_id == lee.pk
        ]
        assert at(TUESDAY, 9) in open_now and at(TUESDAY, 14) not in open_now
        assert AuditEvent.objects.filter(verb="appointment.moved").count() == 1

    def test_a_move_onto_a_taken_time_changes_nothing(self, clinic, frozen):
        appt = self._booked(clinic, hour=9)
        self._booked(clinic, hour=14)
        with pytest.raises(SlotTaken):
            appointment_move(appointment=appt, start=at(TUESDAY, 14, 30), by=STAFF)
        appt.refresh_from_db()
        assert appt.start == at(TUESDAY, 9)

    def test_a_move_may_overlap_the_appointments_own_old_time(self, clinic, frozen):
        appt = self._booked(clinic, hour=9)
        moved = appointment_move(appointment=appt, start=at(TUESDAY, 9, 15), by=STAFF)
        assert moved.start == at(TUESDAY, 9, 15)

    def test_a_patient_reschedule_follows_the_online_rules_and_needs_confirming_again(self, clinic, frozen):
        appt = self._booked(clinic)
        with pytest.raises(SlotTaken):  # inside the minimum notice
            appointment_reschedule(
                appointment=appt, start=at(date(2026, 6, 1), 8), provider=clinic.providers[0], by=STAFF
            )
        moved = appointment_reschedule(
            appointment=appt, start=at(TUESDAY + timedelta(days=1), 10), provider=clinic.providers[1], by=STAFF
        )
        assert moved.status == AppointmentStatus.HOLD and moved.provider == clinic.providers[1]
        assert moved.confirmed_at is None and moved.held_at is not None
        assert Message.objects.filter(template="scheduling/rescheduled").count() == 1

    def test_a_cancelled_appointment_cannot_be_moved(self, clinic, frozen):
        appt = AppointmentFactory(
            location=clinic.location,
            provider=clinic.providers[0],
            operatory=clinic.operatories[0],
            appointment_type=clinic.type,
            start=at(TUESDAY, 9),
            status=AppointmentStatus.CANCELLED,
        )
        with pytest.raises(ValidationError):
            appointment_move(appointment=appt, start=at(TUESDAY, 11), by=STAFF)


class TestTheDatabaseGuarantee:
    """Below the services: the database itself refuses overlaps (PostgreSQL exclusion constraints)."""

    def _row(self, clinic, *, provider, operatory, hour, minute=0, status=AppointmentStatus.CONFIRMED):
        return AppointmentFactory.build(
            location=clinic.location,
            provider=provider,
            operatory=operatory,
            appointment_type=clinic.type,
            patient=PatientFactory(),
            start=at(TUESDAY, hour, minute),
            status=status,
        )

    @postgres_only
    def test_overlapping_active_appointments_for_one_provider_are_refused(self, clinic):
        lee = clinic.providers[0]
        self._row(clinic, provider=lee, operatory=clinic.operatories[0], hour=9).save()
        with pytest.raises(IntegrityError, match="appt_no_provider_overlap"), transaction.atomic():
            self._row(clinic, provider=lee, operatory=clinic.operatories[1], hour=9, minute=30).save()

    @postgres_only
    def test_overlapping_active_appointments_in_one_operatory_are_refused(self, clinic):
        op = clinic.operatories[0]
        self._row(clinic, provider=clinic.providers[0], operatory=op, hour=9).save()
        with pytest.raises(IntegrityError, match="appt_no_operatory_overlap"), transaction.atomic():
            self._row(clinic, provider=clinic.providers[1], operatory=op, hour=10).save()  # inside the buffer

    @postgres_only
    def test_back_to_back_and_inactive_appointments_are_allowed(self, clinic):
        lee = clinic.providers[0]
        self._row(clinic, provider=lee, operatory=clinic.operatories[0], hour=9).save()  # occupies 9:00-10:10
        self._row(clinic, provider=lee, operatory=clinic.operatories[0], hour=10, minute=10).save()
        self._row(
            clinic, provider=lee, operatory=clinic.operatories[0], hour=9, status=AppointmentStatus.CANCELLED
        ).save()
        assert Appointment.objects.count() == 3

    @postgres_only
    def test_reactivating_a_cancelled_overlap_is_refused(self, clinic):
        lee = clinic.providers[0]
        self._row(clinic, provider=lee, operatory=clinic.operatories[0], hour=9).save()
        ghost = self._row(
            clinic, provider=lee, operatory=clinic.operatories[1], hour=9, status=AppointmentStatus.CANCELLED
        )
        ghost.save()
        with pytest.raises(IntegrityError), transaction.atomic():
            Appointment.objects.filter(pk=ghost.pk).update(status=AppointmentStatus.CONFIRMED)

    def test_one_idempotency_key_is_one_appointment(self, clinic):
        lee = clinic.providers[0]
        first = self._row(clinic, provider=lee, operatory=clinic.operatories[0], hour=9)
        first.idempotency_key = "same-key-123"
        first.save()
        second = self._row(clinic, provider=clinic.providers[1], operatory=clinic.operatories[1], hour=14)
        second.idempotency_key = "same-key-123"
        with pytest.raises(IntegrityError), transaction.atomic():
            second.save()
