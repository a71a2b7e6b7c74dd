from datetime import date

import pytest
from django.core.exceptions import ValidationError

from billing.actors import Actor
from billing.models import AuditEvent, Message, Patient, StaffTask, TaskStatus
from scheduling.models import AppointmentStatus, BookingOutcome, CancelKind, Recall
from scheduling.services import online
from scheduling.services.booking import Placement
from scheduling.services.online import hold_place
from scheduling.services.transitions import (
    appointment_cancel,
    appointment_check_in,
    appointment_complete,
    appointment_no_show,
    hold_confirm,
    hold_link_patient,
    hold_reject,
)
from tests.billing.factories import PatientFactory, UserFactory
from tests.conftest import postgres_only
from tests.scheduling.conftest import TUESDAY, at, requester
from tests.scheduling.factories import AppointmentFactory, AppointmentTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return Actor.of(UserFactory(username="desk"))


def hold(clinic, **who):
    return hold_place(
        location=clinic.location,
        appointment_type=clinic.type,
        provider=clinic.providers[0],
        start=at(TUESDAY, 9),
        requester=requester(**who),
        idempotency_key="hold-key-0001",
    ).appointment


def test_confirming_a_hold_tells_the_patient_with_their_manage_link_and_closes_its_tasks(clinic, frozen, staff):
    appt = hold(clinic, note="Please call first")
    confirmed = hold_confirm(appointment=appt, by=staff)
    assert confirmed.status == AppointmentStatus.CONFIRMED
    assert confirmed.confirmed_by == staff.user and confirmed.confirmed_at is not None
    event = AuditEvent.objects.get(verb="appointment.confirmed")
    assert event.before["status"] == "hold" and event.after["status"] == "confirmed"
    assert event.actor_user == staff.user
    message = Message.objects.get(template="scheduling/confirmed")
    assert "/book/manage/" in message.body and "Confirmed" in message.subject
    # The note task is for a person to read, so it stays open; hold tasks would close.
    assert StaffTask.objects.get(kind="scheduling.note").status == TaskStatus.OPEN


def test_a_hold_nobody_has_identified_cannot_be_confirmed_until_staff_link_a_chart(clinic, frozen, staff):
    known = PatientFactory(first_name="Rosa", last_name="Parks", date_of_birth=date(1985, 2, 4), email="x@example.com")
    appt = hold(clinic)
    with pytest.raises(ValidationError) as err:
        hold_confirm(appointment=appt, by=staff)
    assert "patient" in err.value.message_dict
    linked = hold_link_patient(appointment=appt, patient=known, by=staff)
    assert linked.patient == known
    assert StaffTask.objects.get(kind="scheduling.identity").status == TaskStatus.RESOLVED
    assert linked.booking_request.identity == "linked"
    assert hold_confirm(appointment=linked, by=staff).status == AppointmentStatus.CONFIRMED


def test_staff_can_create_the_chart_for_an_ambiguous_request_after_checking(clinic, frozen, staff):
    PatientFactory(first_name="Rosa", last_name="Parks", date_of_birth=date(1985, 2, 4), email="x@example.com")
    appt = hold(clinic)
    linked = hold_link_patient(appointment=appt, create_new=True, by=staff)
    assert Patient.objects.filter(first_name="Rosa").count() == 2
    assert linked.patient.email == "rosa@example.com"
    with pytest.raises(ValidationError):
        hold_link_patient(appointment=linked, create_new=True, by=staff)  # once only


def test_rejecting_a_hold_needs_a_reason_tells_the_patient_and_frees_the_time(clinic, frozen, staff):
    appt = hold(clinic)
    with pytest.raises(ValidationError):
        hold_reject(appointment=appt, by=staff, reason="  ")
    rejected = hold_reject(appointment=appt, by=staff, reason="Dr. Lee is at a course that morning.")
    assert rejected.status == AppointmentStatus.CANCELLED and rejected.cancel_kind == CancelKind.REJECTED
    message = Message.objects.get(template="scheduling/rejected")
    assert "Dr. Lee is at a course that morning." in message.body
    again = hold_place(
        location=clinic.location,
        appointment_type=clinic.type,
        provider=clinic.providers[0],
        start=at(TUESDAY, 9),
        requester=requester(first_name="Ida", email="ida@example.com", phone="+12175550101"),
        idempotency_key="hold-key-0002",
    )
    assert again.outcome == BookingOutcome.HELD


def test_cancel_check_in_complete_and_no_show_follow_the_state_machine(clinic, frozen, staff):
    def booked(hour):
        return AppointmentFactory(
            location=clinic.location,
            provider=clinic.providers[0],
            operatory=clinic.operatories[0],
            appointment_type=clinic.type,
            start=at(TUESDAY, hour),
        )

    a = booked(8)
    assert appointment_check_in(appointment=a, by=staff).status == AppointmentStatus.CHECKED_IN
    with pytest.raises(ValidationError):
        appointment_cancel(appointment=a, by=staff)
    assert appointment_complete(appointment=a, by=staff).status == AppointmentStatus.COMPLETED
    with pytest.raises(ValidationError):
        appointment_check_in(appointment=a, by=staff)

    b = booked(10)
    assert appointment_no_show(appointment=b, by=staff).status == AppointmentStatus.NO_SHOW
    with pytest.raises(ValidationError):
        appointment_complete(appointment=b, by=staff)

    c = booked(13)
    cancelled = appointment_cancel(appointment=c, by=staff, reason="Patient called", kind=CancelKind.PATIENT)
    assert cancelled.status == AppointmentStatus.CANCELLED and cancelled.cancel_reason == "Patient called"
    assert Message.objects.filter(template="scheduling/cancelled", patient=c.patient).count() == 1
    with pytest.raises(ValidationError):
        appointment_cancel(appointment=c, by=staff)
    verbs = set(AuditEvent.objects.filter(verb__startswith="appointment.").values_list("verb", flat=True))
    assert verbs >= {"appointment.checked_in", "appointment.completed", "appointment.no_show", "appointment.cancelled"}


def test_completing_a_recall_visit_sets_the_next_due_date(clinic, frozen, staff):
    recall_type = AppointmentTypeFactory(name="Recall cleaning", recall_interval_months=6)
    first = AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=recall_type,
        start=at(date(2026, 8, 31), 9),
    )
    appointment_complete(appointment=first, by=staff)
    recall = Recall.objects.get(patient=first.patient)
    assert recall.due_date == date(2027, 2, 28)  # six calendar months, clamped to the month's end
    second = AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=recall_type,
        patient=first.patient,
        start=at(date(2027, 3, 1), 9),
    )
    appointment_complete(appointment=second, by=staff)
    assert list(Recall.objects.filter(patient=first.patient).values_list("status", "due_date").order_by("id")) == [
        ("done", date(2027, 2, 28)),
        ("due", date(2027, 9, 1)),
    ]
    other = AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=clinic.type,
        start=at(TUESDAY, 9),
    )
    appointment_complete(appointment=other, by=staff)
    assert not Recall.objects.filter(patient=other.patient).exists()  # not a recall type


@postgres_only
def test_when_the_recheck_is_fooled_the_database_still_refuses_and_the_answer_is_taken(clinic, frozen, monkeypatch):
    """Simulate the race the re-check can't see (a competitor commits between our check and our insert):
    make the check always say "free", and the exclusion constraint must still refuse the overlap."""
    AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=clinic.type,
        start=at(TUESDAY, 9),
    )
    monkeypatch.setattr(online, "_slot_open", lambda *a, **k: True)
    monkeypatch.setattr(
        online,
        "_place",
        lambda snap, **k: Placement(
            at(TUESDAY, 9), at(TUESDAY, 10), at(TUESDAY, 9), at(TUESDAY, 10, 10), clinic.operatories[1].pk
        ),
    )
    result = hold(clinic)
    assert result is None
    from scheduling.models import Appointment, BookingRequest

    assert Appointment.objects.count() == 1
    assert BookingRequest.objects.get().outcome == BookingOutcome.TAKEN
    assert not Patient.objects.filter(first_name="Rosa").exists()


def test_the_audit_trail_says_who_did_each_transition(clinic, frozen, staff):
    appt = hold(clinic)
    hold_reject(appointment=appt, by=staff, reason="Full")
    events = AuditEvent.objects.filter(target_id=str(appt.pk), verb__startswith="appointment.").order_by(
        "occurred_at", "id"
    )
    assert [e.verb for e in events] == ["appointment.hold_placed", "appointment.rejected"]
    assert events[0].actor_label == "scheduling.online" and events[1].actor_label == "desk"


def test_a_confirmation_goes_by_email_and_by_text_to_patients_who_prefer_texts(clinic, frozen, staff):
    from billing.models import ContactChannel

    texter = PatientFactory(preferred_channel=ContactChannel.SMS)
    quiet = PatientFactory(preferred_channel=ContactChannel.NONE)
    for patient, hour in ((texter, 9), (quiet, 11)):
        appt = AppointmentFactory(
            location=clinic.location,
            provider=clinic.providers[0],
            operatory=clinic.operatories[0],
            appointment_type=clinic.type,
            patient=patient,
            start=at(TUESDAY, hour),
            status=AppointmentStatus.HOLD,
            confirmed_at=None,
        )
        hold_confirm(appointment=appt, by=staff)
    sent = Message.objects.filter(template="scheduling/confirmed")
    assert sorted(sent.filter(patient=texter).values_list("channel", flat=True)) == ["email", "sms"]
    assert list(sent.filter(patient=quiet).values_list("status", flat=True)) == ["suppressed"]
