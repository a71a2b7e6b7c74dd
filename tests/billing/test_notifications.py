import pytest
from django.core import mail

from billing.actors import Actor
from billing.models import Channel, ContactChannel, Message, MessageStatus
from billing.notifications import sms
from billing.notifications.services import message_deliver, notify
from tests.billing.factories import PatientFactory

pytestmark = pytest.mark.django_db
JOB = Actor.system_component("tests")


def send(patient, **kw):
    return notify(
        template="billing/test_notice",
        context={"first_name": patient.first_name, "line": "See you soon."},
        patient=patient,
        by=JOB,
        **kw,
    )


def test_email_goes_out_after_commit_and_is_logged(django_capture_on_commit_callbacks):
    patient = PatientFactory(preferred_channel=ContactChannel.EMAIL)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(patient)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.sent_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [patient.email]
    assert "See you soon." in mail.outbox[0].body
    assert message.context == {"first_name": patient.first_name, "line": "See you soon."}


def test_nothing_is_sent_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        send(patient)
    assert len(callbacks) == 1  # queued for commit, not sent inline
    assert mail.outbox == []


def test_sms_when_the_patient_prefers_texts(django_capture_on_commit_callbacks):
    patient = PatientFactory(preferred_channel=ContactChannel.SMS)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(patient)
    assert message.channel == Channel.SMS
    assert [s.to for s in sms.outbox] == [patient.phone]
    assert sms.outbox[0].body.endswith("See you soon.")
    assert mail.outbox == []


def test_patient_who_wants_no_messages_is_logged_not_contacted(django_capture_on_commit_callbacks):
    patient = PatientFactory(preferred_channel=ContactChannel.NONE)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(patient)
    assert message.status == MessageStatus.SUPPRESSED
    assert mail.outbox == [] and sms.outbox == []


def test_missing_address_is_logged_with_the_reason(django_capture_on_commit_callbacks):
    patient = PatientFactory(email="", preferred_channel=ContactChannel.EMAIL)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(patient)
    assert message.status == MessageStatus.SUPPRESSED and "email" in message.error


def test_dedupe_key_sends_once(django_capture_on_commit_callbacks):
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = send(patient, dedupe_key="reminder-1")
        second = send(patient, dedupe_key="reminder-1")
    assert first.pk == second.pk
    assert len(mail.outbox) == 1


def test_a_message_is_delivered_once_even_if_the_job_runs_twice(django_capture_on_commit_callbacks):
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = send(patient)
    assert message_deliver(message.pk) == "not queued"
    assert len(mail.outbox) == 1


def test_a_carrier_failure_is_recorded_on_the_message(settings, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "tests.billing.test_notifications.BrokenSms"
    patient = PatientFactory(preferred_channel=ContactChannel.SMS)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(patient)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and "carrier down" in message.error
    assert Message.objects.count() == 1


class BrokenSms(sms.BaseSmsBackend):
    def send(self, *, to, body):
        raise sms.SmsError("carrier down")


def test_text_messages_are_not_html_escaped(django_capture_on_commit_callbacks):
    patient = PatientFactory(first_name="D'Angelo", preferred_channel=ContactChannel.SMS)
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            template="billing/test_notice",
            context={"first_name": patient.first_name, "line": "Tom & Jerry's <ok>"},
            patient=patient,
            by=JOB,
        )
    assert sms.outbox[0].body.endswith("Tom & Jerry's <ok>")


def test_email_subject_and_text_body_are_not_html_escaped(django_capture_on_commit_callbacks):
    patient = PatientFactory(first_name="D'Angelo")
    with django_capture_on_commit_callbacks(execute=True):
        send(patient)
    assert "Hi D'Angelo," in mail.outbox[0].body


def test_no_messages_wins_over_a_channel_the_caller_asks_for(django_capture_on_commit_callbacks):
    patient = PatientFactory(preferred_channel=ContactChannel.NONE)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(patient, channel=Channel.EMAIL)
    assert message.status == MessageStatus.SUPPRESSED
    assert mail.outbox == []


class TestSender:
    """Emails come from the practice, not from "Chairside <no-reply@chairside.local>" (issue 8)."""

    def test_email_is_from_the_practice_name_at_the_sending_address_and_replies_go_to_the_practice(
        self, django_capture_on_commit_callbacks, settings
    ):
        from billing.selectors.practice import practice_get

        settings.DEFAULT_FROM_EMAIL = "Chairside <no-reply@chairside.local>"
        practice = practice_get()
        practice.legal_name, practice.display_name = "Riverside Dental, P.C.", ""
        practice.email = "desk@riverside.example"
        practice.save()
        patient = PatientFactory(preferred_channel=ContactChannel.EMAIL)
        with django_capture_on_commit_callbacks(execute=True):
            send(patient)
        sent = mail.outbox[0]
        assert sent.from_email == '"Riverside Dental, P.C." <no-reply@chairside.local>'
        assert sent.reply_to == ["desk@riverside.example"]
        header = sent.message()["From"]
        assert "Chairside" not in header and "no-reply@chairside.local" in header

    def test_a_name_outside_ascii_and_no_reply_to_when_the_practice_has_no_email(
        self, django_capture_on_commit_callbacks, settings
    ):
        from email.header import decode_header, make_header

        from billing.selectors.practice import practice_get

        settings.DEFAULT_FROM_EMAIL = "no-reply@clinic.example"
        practice = practice_get()
        practice.legal_name, practice.display_name, practice.email = "Clínica Peña", "Peña Smiles", ""
        practice.save()
        patient = PatientFactory(preferred_channel=ContactChannel.EMAIL)
        with django_capture_on_commit_callbacks(execute=True):
            send(patient)
        sent = mail.outbox[0]
        assert sent.reply_to == []
        assert str(make_header(decode_header(sent.message()["From"]))) == "Peña Smiles <no-reply@clinic.example>"
