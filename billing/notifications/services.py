from __future__ import annotations

import logging
from email.headerregistry import Address
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import timezone

from billing.actors import Actor
from billing.jobs import enqueue
from billing.models import Channel, ContactChannel, Message, MessageStatus, Patient, Practice
from billing.selectors.practice import practice_get

from .sms import get_sms_backend

log = logging.getLogger(__name__)


def _has_template(name: str) -> bool:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


def _render_text(name: str, context: dict) -> str:
    """Plain-text templates (subjects, text bodies, SMS) render without HTML escaping: an apostrophe in a
    name must stay an apostrophe in a text message."""
    return get_template(name).template.render(Context(context, autoescape=False))


def _pick_channel(patient: Patient | None, channel: str | None, template: str) -> str | None:
    if patient is not None and patient.preferred_channel == ContactChannel.NONE:
        return None  # "no messages" wins over any channel a caller asks for
    if channel is None and patient is not None:
        channel = Channel.SMS if patient.preferred_channel == ContactChannel.SMS else Channel.EMAIL
    channel = channel or Channel.EMAIL
    if channel == Channel.SMS and not _has_template(f"messages/{template}/sms.txt"):
        channel = Channel.EMAIL
    return channel


def notify(
    *,
    template: str,
    context: dict,
    by: Actor,
    patient: Patient | None = None,
    to: str = "",
    channel: str | None = None,
    dedupe_key: str | None = None,
) -> Message:
    """Render and queue one message; it is sent after the surrounding transaction commits.

    ``context`` must be small and JSON-safe (it is stored with the message): pass the minimum the
    template needs (a first name, a date, a link), never a whole chart. The channel defaults to the
    patient's preference; a patient who wants no messages, or has no address on file, gets a message
    row marked "not sent" with the reason, so staff can see it. With a ``dedupe_key`` a message is sent
    at most once: a second call returns the first message.
    """
    if dedupe_key:
        existing = Message.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    chosen = _pick_channel(patient, channel, template)
    practice = practice_get()
    full_context = {"practice_name": practice.legal_name, "practice_phone": practice.phone, **context}
    message = Message(
        channel=chosen or Channel.EMAIL, patient=patient, template=template, context=context, dedupe_key=dedupe_key
    )
    if chosen == Channel.SMS:
        message.to = to or (patient.phone if patient else "")
        message.body = _render_text(f"messages/{template}/sms.txt", full_context).strip()
    else:
        message.to = to or (patient.email if patient else "")
        message.subject = " ".join(_render_text(f"messages/{template}/subject.txt", full_context).split())
        message.body = _render_text(f"messages/{template}/body.txt", full_context).strip() + "\n"
        if _has_template(f"messages/{template}/body.html"):
            message.html_body = render_to_string(f"messages/{template}/body.html", full_context)
    if chosen is None:
        message.status, message.error = MessageStatus.SUPPRESSED, "The patient asked for no messages."
    elif not message.to:
        message.status = MessageStatus.SUPPRESSED
        message.error = f"No {'mobile number' if chosen == Channel.SMS else 'email address'} on file."
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        if dedupe_key:
            return Message.objects.get(dedupe_key=dedupe_key)
        raise
    if message.status == MessageStatus.QUEUED:
        enqueue("billing.notifications.services.message_deliver", message.pk)
    return message


def practice_sender(practice: Practice) -> str:
    """The From of every email: the practice's name at the deployment's sending address
    (``DEFAULT_FROM_EMAIL``'s address; its display name, "Chairside", is ours, not the patient's
    practice). Patients reply to the practice's own email when it has one (Reply-To)."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    name = " ".join((practice.name or "").split())  # no line breaks or runs of spaces in a header
    if not name or not address:
        return settings.DEFAULT_FROM_EMAIL
    return str(Address(display_name=name, addr_spec=address))


def message_deliver(message_id: int) -> str:
    """Send a queued message. Claims it with one conditional UPDATE, so two workers (or a retry) send
    it once; a crash after the claim leaves it "sending" for a person to look at, never sent twice."""
    claimed = Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(status=MessageStatus.SENDING)
    if claimed != 1:
        return "not queued"
    message = Message.objects.get(pk=message_id)
    try:
        if message.channel == Channel.SMS:
            provider_id = get_sms_backend().send(to=message.to, body=message.body)
        else:
            practice = practice_get()
            email = EmailMultiAlternatives(
                subject=message.subject,
                body=message.body,
                from_email=practice_sender(practice),
                to=[message.to],
                reply_to=[practice.email] if practice.email else None,
                headers={"X-Chairside-Message": str(message.pk)},
            )
            if message.html_body:
                email.attach_alternative(message.html_body, "text/html")
            email.send()
            provider_id = ""
    except Exception as exc:  # any carrier/SMTP failure: record it on the message, never lose it silently
        log.warning("message %s failed: %s", message_id, type(exc).__name__)
        Message.objects.filter(pk=message_id).update(status=MessageStatus.FAILED, error=str(exc)[:1000])
        return "failed"
    Message.objects.filter(pk=message_id).update(
        status=MessageStatus.SENT, sent_at=timezone.now(), provider_id=provider_id
    )
    return "sent"
