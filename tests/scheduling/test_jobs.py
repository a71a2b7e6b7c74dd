from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django_q.models import Schedule

from billing.actors import Actor
from billing.models import ContactChannel, Message, MessageStatus, StaffTask, TaskPriority, TaskStatus
from billing.notifications import sms
from scheduling.models import (
    AppointmentStatus,
    AsapOffer,
    AsapRequest,
    AsapStatus,
    OfferStatus,
    Recall,
    ReconciliationReport,
    ReminderNotice,
    ReminderStatus,
)
from scheduling.schedules import SCHEDULES, ensure_schedules
from scheduling.selectors.calendar import recall_lists
from scheduling.selectors.settings import scheduling_settings
from scheduling.services import recall as recall_services
from scheduling.services.asap import asap_accept, asap_join, asap_offer_opening
from scheduling.services.booking import appointment_move
from scheduling.services.jobs import holds_sweep, reminder_send, reminders_scan
from scheduling.services.online import hold_place
from scheduling.services.recall import recall_run
from scheduling.services.reports import reconciliation_run
from scheduling.services.transitions import appointment_cancel, hold_confirm
from tests.billing.factories import PatientFactory, UserFactory
from tests.scheduling.conftest import NOW, TUESDAY, at, requester
from tests.scheduling.factories import AppointmentFactory, AppointmentTypeFactory

pytestmark = pytest.mark.django_db
STAFF = Actor.system_component("tests")


def confirmed(clinic, start, *, provider=0, patient=None, **kw):
    return AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[provider],
        operatory=clinic.operatories[provider],
        appointment_type=kw.pop("appointment_type", clinic.type),
        patient=patient or PatientFactory(home_location=clinic.location),
        start=start,
        **kw,
    )


def run_reminders(now):
    """The scan, then each queued send, as the worker would (on_commit jobs don't fire inside a test)."""
    with time_machine.travel(now, tick=False):
        reminders_scan()
        for notice in ReminderNotice.objects.filter(status=ReminderStatus.PENDING, claimed_at__isnull=True):
            reminder_send(notice_id=notice.pk)


class TestHoldLifetime:
    def _hold(self, clinic, start):
        return hold_place(
            location=clinic.location,
            appointment_type=clinic.type,
            provider=clinic.providers[0],
            start=start,
            requester=requester(),
            idempotency_key="hold-life-0001",
        ).appointment

    def test_a_hold_left_past_the_window_stays_and_raises_one_task(self, clinic, frozen):
        appt = self._hold(clinic, at(date(2026, 6, 5), 9))
        frozen.shift(timedelta(hours=23))
        assert holds_sweep().flagged == 0
        frozen.shift(timedelta(hours=2))
        assert holds_sweep().flagged == 1
        assert holds_sweep().flagged == 0  # claimed once
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.HOLD and appt.hold_flagged_at is not None  # never silently dropped
        task = StaffTask.objects.get(kind="scheduling.hold_overdue")
        assert task.priority == TaskPriority.HIGH and task.context == {"appointment": appt.pk}
        hold_confirm(appointment=appt, by=Actor.of(UserFactory()))
        task.refresh_from_db()
        assert task.status == TaskStatus.RESOLVED  # confirming the hold closes the task that asked for it

    def test_a_hold_whose_time_came_unconfirmed_expires_and_stops_blocking(self, clinic, frozen):
        appt = self._hold(clinic, at(TUESDAY, 9))
        with time_machine.travel(at(TUESDAY, 9, 1), tick=False):
            result = holds_sweep()
        assert result.expired == 1
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.EXPIRED
        assert StaffTask.objects.filter(kind="scheduling.hold_expired").count() == 1
        with time_machine.travel(at(TUESDAY, 9, 2), tick=False):
            assert holds_sweep().expired == 0

    def test_the_window_is_a_setting(self, clinic, frozen):
        settings = scheduling_settings()
        settings.hold_confirm_minutes = 30
        settings.save()
        self._hold(clinic, at(date(2026, 6, 5), 9))
        frozen.shift(timedelta(minutes=31))
        assert holds_sweep().flagged == 1


class TestReminders:
    def test_default_cadence_is_email_a_week_before_then_texts_two_days_and_two_hours_before(self, clinic):
        start = at(date(2026, 6, 20), 10)
        patient = PatientFactory(preferred_channel=ContactChannel.SMS, home_location=clinic.location)
        confirmed(clinic, start, patient=patient)
        run_reminders(start - timedelta(days=8))
        assert not Message.objects.exists()
        run_reminders(start - timedelta(days=7) + timedelta(minutes=3))
        run_reminders(start - timedelta(days=2) + timedelta(minutes=3))
        run_reminders(start - timedelta(hours=2) + timedelta(minutes=3))
        sent = list(Message.objects.order_by("created_at", "id").values_list("template", "channel"))
        assert sent == [
            ("scheduling/reminder", "email"),
            ("scheduling/reminder", "sms"),
            ("scheduling/reminder", "sms"),
        ]

    def test_sms_steps_go_by_email_to_patients_who_prefer_email(self, clinic):
        start = at(date(2026, 6, 20), 10)
        confirmed(clinic, start)  # PatientFactory prefers email
        run_reminders(start - timedelta(hours=2) + timedelta(minutes=1))
        assert list(Message.objects.values_list("channel", flat=True)) == ["email"]

    def test_a_patient_who_wants_no_messages_gets_none(self, clinic):
        start = at(date(2026, 6, 20), 10)
        confirmed(clinic, start, patient=PatientFactory(preferred_channel=ContactChannel.NONE))
        run_reminders(start - timedelta(hours=2) + timedelta(minutes=1))
        assert list(Message.objects.values_list("status", flat=True)) == [MessageStatus.SUPPRESSED]

    def test_each_reminder_is_sent_once_however_often_the_job_runs(self, clinic):
        start = at(date(2026, 6, 20), 10)
        confirmed(clinic, start)
        moment = start - timedelta(days=7) + timedelta(minutes=1)
        for _ in range(3):
            run_reminders(moment)
        notice = ReminderNotice.objects.get()
        assert reminder_send(notice_id=notice.pk) == "skipped"  # a second worker finds it claimed
        assert Message.objects.count() == 1

    def test_cancelled_and_moved_appointments_get_no_reminder_for_the_old_time(self, clinic):
        start = at(date(2026, 6, 20), 10)
        cancelled = confirmed(clinic, start)
        moved = confirmed(clinic, start, provider=1)
        with time_machine.travel(start - timedelta(days=7) + timedelta(minutes=1), tick=False):
            reminders_scan()
            appointment_cancel(appointment=cancelled, by=STAFF)
            appointment_move(appointment=moved, start=start + timedelta(hours=3), by=STAFF, override_hours=True)
            for notice in ReminderNotice.objects.all():
                assert reminder_send(notice_id=notice.pk) == "skipped"
        assert not Message.objects.filter(template="scheduling/reminder").exists()
        assert set(ReminderNotice.objects.values_list("status", flat=True)) == {ReminderStatus.SKIPPED}
        # The moved one is reminded for its new time when that moment comes.
        run_reminders(start + timedelta(hours=3) - timedelta(hours=2) + timedelta(minutes=1))
        assert Message.objects.filter(template="scheduling/reminder").count() == 1

    def test_a_step_whose_moment_passed_before_booking_is_skipped(self, clinic):
        start = at(date(2026, 6, 5), 10)
        confirmed(clinic, start, confirmed_at=start - timedelta(days=3))  # booked 3 days ahead
        for moment in (start - timedelta(days=3, hours=-1), start - timedelta(days=2) + timedelta(minutes=1)):
            run_reminders(moment)
        assert Message.objects.count() == 1  # no "a week before" mail sent late; the two-day one is sent

    def test_holds_are_not_reminded(self, clinic):
        start = at(date(2026, 6, 20), 10)
        confirmed(clinic, start, status=AppointmentStatus.HOLD, confirmed_at=None)
        run_reminders(start - timedelta(days=7) + timedelta(minutes=1))
        assert not ReminderNotice.objects.exists()

    @staticmethod
    def _many(clinic, n, start):
        """n confirmed visits at one time, each with its own provider and room."""
        for _ in range(n):
            AppointmentFactory(location=clinic.location, appointment_type=clinic.type, start=start)

    @pytest.mark.parametrize("n", [5, 50])
    def test_the_scan_runs_a_fixed_number_of_queries(self, clinic, n, django_assert_num_queries):
        start = at(date(2026, 6, 20), 10)
        self._many(clinic, n, start)
        # settings; per rule (3): candidates, and for the one rule that has some: savepoint, insert, select,
        # release. The sends are queued (on commit), one job each.
        with (
            time_machine.travel(start - timedelta(days=7) + timedelta(hours=1), tick=False),
            django_assert_num_queries(8),
        ):
            assert reminders_scan().queued == n

    @pytest.mark.parametrize("n", [5, 50])
    def test_sending_costs_the_same_per_reminder(self, clinic, n, django_assert_num_queries):
        start = at(date(2026, 6, 20), 10)
        self._many(clinic, n, start)
        moment = start - timedelta(days=7) + timedelta(hours=1)
        with time_machine.travel(moment, tick=False):
            reminders_scan()
            ids = list(ReminderNotice.objects.values_list("id", flat=True))
            with django_assert_num_queries(8 * n):
                for pk in ids:
                    reminder_send(notice_id=pk)
        assert Message.objects.count() == n


class TestAsap:
    def _waiting(self, clinic, n, *, start):
        out = []
        for i in range(n):
            appt = confirmed(clinic, start + timedelta(days=i), provider=0)
            out.append(
                asap_join(
                    patient=appt.patient,
                    appointment_type=clinic.type,
                    location=clinic.location,
                    appointment=appt,
                    by=STAFF,
                )
            )
        return out

    def test_an_opening_is_offered_and_the_first_accept_wins(self, clinic, frozen):
        waiting = self._waiting(clinic, 3, start=at(date(2026, 6, 15), 9))
        opening = at(TUESDAY, 11)
        result = asap_offer_opening(location_id=clinic.location.pk, provider_id=clinic.providers[0].pk, start=opening)
        assert result.offered == 3
        offers = list(AsapOffer.objects.order_by("id"))
        assert {m.template for m in Message.objects.filter(template__startswith="scheduling/asap")} == {
            "scheduling/asap_offer"
        }
        won = asap_accept(offer=offers[1])
        assert won.won
        moved = waiting[1].appointment
        moved.refresh_from_db()
        assert moved.start == opening and moved.status == AppointmentStatus.CONFIRMED  # moved earlier, atomically
        lost = asap_accept(offer=offers[0])
        assert not lost.won
        assert [o.status for o in AsapOffer.objects.order_by("id")] == [
            OfferStatus.GONE,
            OfferStatus.ACCEPTED,
            OfferStatus.GONE,
        ]
        assert Message.objects.filter(template="scheduling/asap_gone").count() == 2
        assert AsapRequest.objects.get(pk=waiting[1].pk).status == AsapStatus.BOOKED
        assert AsapRequest.objects.get(pk=waiting[0].pk).status == AsapStatus.WAITING

    def test_an_offer_is_gone_if_someone_booked_the_time_meanwhile(self, clinic, frozen):
        self._waiting(clinic, 1, start=at(date(2026, 6, 15), 9))
        opening = at(TUESDAY, 11)
        asap_offer_opening(location_id=clinic.location.pk, provider_id=clinic.providers[0].pk, start=opening)
        confirmed(clinic, opening)  # the front desk booked a walk-in there
        assert not asap_accept(offer=AsapOffer.objects.get()).won
        assert AsapOffer.objects.get().status == OfferStatus.GONE

    def test_a_patient_without_an_appointment_gets_a_new_hold_keyed_by_the_opening(self, clinic, frozen):
        patient = PatientFactory()
        asap_join(patient=patient, appointment_type=clinic.type, location=clinic.location, by=STAFF)
        opening = at(TUESDAY, 11)
        asap_offer_opening(location_id=clinic.location.pk, provider_id=clinic.providers[0].pk, start=opening)
        result = asap_accept(offer=AsapOffer.objects.get())
        assert result.won and result.appointment.status == AppointmentStatus.HOLD
        assert result.appointment.idempotency_key == f"asap:{clinic.providers[0].pk}-{int(opening.timestamp())}"
        assert asap_accept(offer=AsapOffer.objects.get()).won  # a double click is still the winner

    def test_a_cancellation_offers_its_time_to_the_list_after_commit(
        self, clinic, frozen, django_capture_on_commit_callbacks
    ):
        self._waiting(clinic, 2, start=at(date(2026, 6, 15), 9))
        cancelled = confirmed(clinic, at(TUESDAY, 11), provider=0)
        with django_capture_on_commit_callbacks(execute=True):
            appointment_cancel(appointment=cancelled, by=STAFF)
        assert AsapOffer.objects.count() == 2
        assert set(AsapOffer.objects.values_list("start", flat=True)) == {at(TUESDAY, 11)}

    def test_nobody_is_offered_a_later_time_than_they_have_or_offered_twice(self, clinic, frozen):
        self._waiting(clinic, 1, start=at(TUESDAY, 8))
        assert (
            asap_offer_opening(
                location_id=clinic.location.pk, provider_id=clinic.providers[0].pk, start=at(TUESDAY, 14)
            ).offered
            == 0
        )
        soon = at(date(2026, 6, 1), 13)
        self._waiting(clinic, 1, start=at(date(2026, 6, 20), 8))
        first = asap_offer_opening(location_id=clinic.location.pk, provider_id=clinic.providers[0].pk, start=soon)
        again = asap_offer_opening(location_id=clinic.location.pk, provider_id=clinic.providers[0].pk, start=soon)
        assert (first.offered, again.offered) == (2, 0)  # both have later visits; nobody is told twice
        assert AsapOffer.objects.count() == 2


class TestRecall:
    def _recall(self, clinic, *, due, patient=None):
        t = AppointmentTypeFactory(recall_interval_months=6)
        return Recall.objects.create(
            patient=patient or PatientFactory(home_location=clinic.location),
            appointment_type=t,
            location=clinic.location,
            due_date=due,
        )

    def test_reminders_run_off_the_due_date_each_step_once(self, clinic):
        self._recall(clinic, due=date(2026, 7, 1))
        assert recall_run(today=date(2026, 5, 31)).sent == 0
        assert recall_run(today=date(2026, 6, 1)).sent == 1  # 30 days before
        assert recall_run(today=date(2026, 6, 2)).sent == 0
        assert recall_run(today=date(2026, 7, 1)).sent == 1  # on the due date
        assert recall_run(today=date(2026, 7, 31)).sent == 1  # 30 days after
        assert recall_run(today=date(2026, 9, 1)).sent == 0  # the sequence is done
        messages = Message.objects.filter(template="scheduling/recall")
        assert messages.count() == 3
        assert f"/book/{clinic.location.slug}/?type=" in messages.first().body

    def test_lapsed_or_on_hold_members_are_left_out_and_listed_for_staff(self, clinic, monkeypatch):
        lapsed = self._recall(clinic, due=date(2026, 7, 1))
        on_hold = self._recall(clinic, due=date(2026, 7, 1))
        member = self._recall(clinic, due=date(2026, 7, 1))
        statuses = {lapsed.patient_id: "lapsed", on_hold.patient_id: "on_hold", member.patient_id: "active"}
        monkeypatch.setattr(recall_services, "membership_status_by_patient", lambda ids: statuses)
        result = recall_run(today=date(2026, 6, 1))
        assert (result.sent, result.excluded) == (1, 2)
        assert list(Message.objects.values_list("patient_id", flat=True)) == [member.patient_id]
        with time_machine.travel(NOW, tick=False):
            lists = recall_lists(location=clinic.location)
        assert {r.pk for r in lists["excluded"]} == {lapsed.pk, on_hold.pk}
        assert {r.excluded_reason for r in lists["excluded"]} == {"membership lapsed", "membership on hold"}
        assert member in lists["due"]

    def test_a_patient_already_booked_for_the_type_is_not_chased(self, clinic, frozen):
        recall = self._recall(clinic, due=date(2026, 7, 1))
        confirmed(clinic, at(date(2026, 6, 25), 9), patient=recall.patient, appointment_type=recall.appointment_type)
        assert recall_run(today=date(2026, 6, 1)).sent == 0


class TestReconciliation:
    def test_the_report_goes_to_the_locations_manager_once_after_the_report_hour(self, clinic, frozen):
        result = hold_place(
            location=clinic.location,
            appointment_type=clinic.type,
            provider=clinic.providers[0],
            start=at(TUESDAY, 9),
            requester=requester(note="Allergic to latex"),
            idempotency_key="recon-key-0001",
        )
        hold_place(
            location=clinic.location,
            appointment_type=clinic.type,
            provider=clinic.providers[0],
            start=at(TUESDAY, 9),
            requester=requester(first_name="Ida", email="ida@example.com"),
            idempotency_key="recon-key-0002",
        )  # lost: taken
        mail.outbox.clear()
        with time_machine.travel(datetime(2026, 6, 1, 22, 59, tzinfo=UTC), tick=False):  # 17:59 in Chicago
            assert reconciliation_run().sent == 0
        with time_machine.travel(datetime(2026, 6, 1, 23, 5, tzinfo=UTC), tick=False):  # 18:05
            assert reconciliation_run().sent == 1
            assert reconciliation_run().sent == 0
        report = ReconciliationReport.objects.get()
        assert report.day == date(2026, 6, 1)
        assert report.summary["counts"] == {"held": 1, "taken": 1, "refused": 0}
        message = Message.objects.get(template="scheduling/daily_report")
        assert message.to == "manager@lakeview.example"
        assert "1 held, 1 lost" in message.body and "Booking: patient note" in message.body
        assert f"/console/calendar/appointments/{result.appointment.pk}/" in message.body
        assert "Rosa" not in message.body and "rosa@example.com" not in message.body  # ids and links, no chart data


class TestSchedulesAndCommands:
    def test_schedules_exist_after_migrate_and_ensuring_them_again_adds_none(self):
        names = {name for name, *_ in SCHEDULES}
        assert ensure_schedules() == 0  # post_migrate made them
        assert set(Schedule.objects.filter(name__in=names).values_list("name", flat=True)) == names
        Schedule.objects.filter(name="scheduling: reminders").update(minutes=10)
        Schedule.objects.filter(name="scheduling: recall").delete()
        assert ensure_schedules() == 1
        assert Schedule.objects.get(name="scheduling: reminders").minutes == 10  # an operator's edit is kept

    def test_the_operator_command_runs_every_job(self, clinic, frozen, capsys):
        start = at(date(2026, 6, 8), 10)
        confirmed(clinic, start, confirmed_at=start - timedelta(days=20))
        frozen.move_to(start - timedelta(days=7) + timedelta(minutes=5))
        call_command("scheduling_run", "--send-now")
        out = capsys.readouterr().out
        assert "reminders: 1 queued" in out and "reminders: 1 sent now" in out
        assert "holds:" in out and "recall:" in out and "reconciliation:" in out
        call_command("scheduling_run", "reminders", "--send-now")
        assert "reminders: 0 sent now" in capsys.readouterr().out
        assert not sms.outbox
