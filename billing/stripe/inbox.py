"""The webhook inbox: store every verified event once, then process it through the registered handlers.

Receiving (the webhook view) verifies the signature, stores the raw event under its Stripe id with one
INSERT (a repeated delivery hits the unique key and is answered 200 without a second row) and asks the
django-q2 worker to drain the inbox. Draining takes due events with ``SELECT … FOR UPDATE SKIP LOCKED``
in batches; each batch is one transaction and each event a savepoint inside it, so:

- two workers never take the same event, and one that waits for a locked event then sees it done;
- a worker killed mid-batch commits nothing of that batch: every event in it is still ``received``
  and the next drain processes it, once;
- a handler that raises leaves its event ``failed`` with the error, retried with backoff until
  STRIPE_EVENT_MAX_ATTEMPTS, then a manager task; ``manage.py replay_stripe_events`` runs it again.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from billing.actors import Actor
from billing.jobs import broker as _broker
from billing.models import EventSource, EventStatus, Role, StripeEvent, TaskPriority
from billing.registry import stripe_handlers_for
from billing.services.audit import audit_record
from billing.services.staff_tasks import task_open

from . import gateway
from .batch import batch_memo, remembered
from .errors import UnknownCustomer, WaitForObject
from .payments import lock_order, prime_customers, waiting_ready, wake_waiting_for
from .shapes import check_event
from .types import InboundEvent

log = logging.getLogger(__name__)

DONE = (EventStatus.PROCESSED, EventStatus.IGNORED)
MAX_RETRY_DELAY = timedelta(hours=6)
DRAIN_SECONDS = 40  # a drain stops taking new batches after this and hands over (django-q2 timeout is 60 s)
ACTORS = {
    EventSource.WEBHOOK: Actor.system_component("stripe.webhook"),
    EventSource.SYNC: Actor.system_component("stripe.sync"),
}


def actor_for(event: InboundEvent) -> Actor:
    return ACTORS.get(event.source, ACTORS[EventSource.WEBHOOK])


def _customer_of(obj: dict) -> str:
    if obj.get("object") == "customer":
        return str(obj.get("id") or "")
    customer = obj.get("customer")
    return str(customer.get("id") if isinstance(customer, dict) else customer or "")


def _ts(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


# --- Receiving ----------------------------------------------------------------------------------------------
def event_receive(*, payload: bytes, signature: str) -> tuple[StripeEvent | None, bool]:
    """Verify and store one delivery. Returns (event, True) when it is new, (None, False) for a repeat.
    Raises InvalidWebhook (nothing stored) for a missing, forged or stale signature, or a body that is
    not an event we can read (``shapes.check_event`` names the field)."""
    event = check_event(gateway.verify_webhook(payload, signature))
    obj = event["data"]["object"]
    row = StripeEvent(
        stripe_id=event["id"][:255],
        type=event["type"][:100],
        source=EventSource.WEBHOOK,
        api_version=str(event.get("api_version") or "")[:40],
        livemode=bool(event.get("livemode")),
        stripe_created=_ts(event.get("created")),
        object_id=str(obj.get("id") or "")[:255],
        customer_id=_customer_of(obj)[:255],
        payload=payload.decode("utf-8"),
    )
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():  # a savepoint, so a repeat doesn't break the caller's transaction
                row.save(force_insert=True)
        else:
            row.save(force_insert=True)  # the webhook's own request: one autocommitted INSERT, no BEGIN/COMMIT
    except IntegrityError:  # the same event again (or its twin arriving at the same moment)
        return None, False
    if settings.STRIPE_PROCESS_INLINE:
        transaction.on_commit(lambda: event_process(row.pk))
    else:
        inbox_nudge()
    return row, True


def inbox_nudge() -> None:
    """Ask a worker to drain the inbox once the current transaction commits."""
    transaction.on_commit(_queue_drain)


FLAG_SECONDS = 10


def _queue_drain() -> None:
    """Queue one drain per burst, not one per delivery. With the Redis broker a flag (SET NX) says "a
    drain is queued": a drain clears it before it looks for work, so an event stored while the flag is
    up is seen by that drain, and one stored after the clear queues the next. The flag expires by itself
    if a drain is lost; the one-minute schedule drains whatever is left. Other brokers: one per event.
    The drain's success isn't saved: it would only fill django-q2's result table."""
    broker = _broker()
    flag = _drain_flag(broker)
    if flag is not None:
        try:
            if not broker.connection.set(flag, "1", nx=True, ex=FLAG_SECONDS):
                return
        except Exception:  # Redis trouble: queue the drain anyway
            log.warning("stripe inbox: drain flag unavailable; queueing a drain per event")
    async_task("billing.stripe.tasks.inbox_drain", save=False, broker=broker)


def _drain_flag(broker) -> str | None:
    if settings.Q_CLUSTER.get("sync") or type(broker).__name__ != "Redis":
        return None
    return f"{broker.list_key}:stripe-drain-queued"


def _clear_drain_flag() -> None:
    broker = _broker()
    flag = _drain_flag(broker)
    if flag is not None:
        try:
            broker.connection.delete(flag)
        except Exception:
            log.warning("stripe inbox: could not clear the drain flag")


# --- Processing ---------------------------------------------------------------------------------------------
@dataclass
class DrainResult:
    events: int = 0
    processed: int = 0
    failed: int = 0
    waiting: int = 0
    unmatched: int = 0
    ignored: int = 0

    def add(self, status: str) -> None:
        self.events += 1
        name = {
            EventStatus.PROCESSED: "processed",
            EventStatus.FAILED: "failed",
            EventStatus.WAITING: "waiting",
            EventStatus.UNMATCHED: "unmatched",
            EventStatus.IGNORED: "ignored",
        }.get(status)
        if name:
            setattr(self, name, getattr(self, name) + 1)


def _due() -> Q:
    now = timezone.now()
    return Q(status=EventStatus.RECEIVED) | Q(
        status__in=[EventStatus.FAILED, EventStatus.WAITING], next_attempt_at__lte=now
    )


def _retry_at(attempts: int) -> datetime | None:
    if attempts >= settings.STRIPE_EVENT_MAX_ATTEMPTS:
        return None
    delay = timedelta(seconds=settings.STRIPE_EVENT_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    return timezone.now() + min(delay, MAX_RETRY_DELAY)


def _inbound(event: StripeEvent) -> InboundEvent:
    data = json.loads(event.payload)
    return InboundEvent(
        id=event.stripe_id,
        type=event.type,
        created=event.stripe_created,
        object=data["data"]["object"],
        livemode=event.livemode,
        source=event.source,
    )


def _process_one(event: StripeEvent, now: datetime | None = None, inbound: InboundEvent | None = None) -> str:
    """Run the handlers for one event inside a savepoint and set its outcome on the (unsaved) row."""
    now = now or timezone.now()
    event.attempts += 1
    event.waiting_for = ""
    event.next_attempt_at = None
    handlers = stripe_handlers_for(event.type)
    if not handlers:
        event.status, event.processed_at, event.last_error = EventStatus.IGNORED, now, ""
        return event.status
    try:
        inbound = inbound or _inbound(event)
        with transaction.atomic():
            for handler in handlers:
                handler.handle(inbound)
    except WaitForObject as wait:
        event.status, event.waiting_for, event.last_error = EventStatus.WAITING, wait.object_id[:255], wait.reason
        event.next_attempt_at = _retry_at(event.attempts) or now + MAX_RETRY_DELAY
    except UnknownCustomer as unknown:
        event.status, event.last_error = EventStatus.UNMATCHED, str(unknown)
        _open_unknown_customer_task(event, unknown.customer_id)
    except Exception as exc:  # a handler's bug or a broken payload: keep it, say why, retry later
        event.status = EventStatus.FAILED
        event.last_error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        event.next_attempt_at = _retry_at(event.attempts)
        log.warning("stripe event %s (%s) failed: %s", event.stripe_id, event.type, type(exc).__name__)
        if event.next_attempt_at is None:
            _open_gave_up_task(event)
    else:
        event.status, event.processed_at, event.last_error = EventStatus.PROCESSED, now, ""
    return event.status


def _in_lock_order(events: list[StripeEvent]) -> list[tuple[StripeEvent, InboundEvent | None]]:
    """The batch's events in the order of the payment rows they lock (``payments.lock_order``), so that
    two workers never hold rows the other waits for, whatever the two batches hold. An event whose
    payload can't be read keeps its place at the end; processing it records why."""
    parsed: list[tuple[StripeEvent, InboundEvent | None]] = []
    for event in events:
        try:
            parsed.append((event, _inbound(event)))
        except (ValueError, KeyError, TypeError):
            parsed.append((event, None))
    keys = lock_order([(e.type, i.object if i is not None and isinstance(i.object, dict) else None) for e, i in parsed])
    order = sorted(range(len(parsed)), key=lambda n: (keys[n], parsed[n][0].pk))
    return [parsed[n] for n in order]


UPDATE_FIELDS = ["status", "attempts", "last_error", "waiting_for", "processed_at", "next_attempt_at"]


def _process_batch(batch_size: int) -> DrainResult:
    result = DrainResult()
    with batch_memo(), transaction.atomic():
        events = list(
            StripeEvent.objects.select_for_update(skip_locked=True).filter(_due()).order_by("id")[:batch_size]
        )
        if not events:
            return result
        prime_customers({e.customer_id for e in events if e.customer_id})
        now = timezone.now()
        for event, inbound in _in_lock_order(events):
            result.add(_process_one(event, now, inbound))
        # An event of this batch may wait for an object a later event of the same batch posted.
        posted = set(remembered(("posted",), set))
        for event in events:
            if event.status == EventStatus.WAITING and event.waiting_for in posted:
                event.status, event.next_attempt_at = EventStatus.RECEIVED, None
        _save_outcomes(events)
    _after_commit(posted, {e.waiting_for for e in events if e.status == EventStatus.WAITING})
    return result


def _after_commit(posted: set[str], waiting: set[str]) -> int:
    """Run after a batch (or one event) committed: wake the events waiting for what it posted, and
    re-check what it left waiting (another worker may have posted that meanwhile). Both sides do this
    after their own commit, so neither misses the other, however two workers interleave."""
    return wake_waiting_for(posted | waiting_ready(waiting))


def _save_outcomes(events: list[StripeEvent]) -> None:
    """One UPDATE per distinct outcome (usually one or two per batch: Django's bulk_update would build a
    CASE per field and row, which costs more than the events' own work)."""
    groups: dict[tuple, list[int]] = {}
    for event in events:
        key = (event.status, event.last_error, event.waiting_for, event.processed_at, event.next_attempt_at)
        groups.setdefault(key, []).append(event.pk)
    for (status, last_error, waiting_for, processed_at, next_attempt_at), ids in groups.items():
        StripeEvent.objects.filter(pk__in=ids).update(
            status=status,
            attempts=F("attempts") + 1,
            last_error=last_error,
            waiting_for=waiting_for,
            processed_at=processed_at,
            next_attempt_at=next_attempt_at,
        )


def inbox_drain(*, batch_size: int = 50, time_budget: float = DRAIN_SECONDS) -> DrainResult:
    """Process every due event, a batch per transaction. Safe to run in any number of workers at once.
    Stops after ``time_budget`` seconds and asks for another drain if work is left."""
    _clear_drain_flag()  # from here on, a new event queues a new drain
    total = DrainResult()
    started = time.monotonic()
    while True:
        batch = _process_batch(batch_size)
        for name in ("events", "processed", "failed", "waiting", "unmatched", "ignored"):
            setattr(total, name, getattr(total, name) + getattr(batch, name))
        if batch.events == 0:
            return total
        if time.monotonic() - started > time_budget:
            inbox_nudge()
            return total


def event_process(event_id: int, *, again: bool = False) -> str:
    """Process one event now (inline mode, a replay). A second caller waits for the first's lock and
    then finds the event done; with ``again`` a done event runs once more (handlers are idempotent)."""
    with batch_memo(), transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_id)
        if event.status in DONE and not again:
            return event.status
        status = _process_one(event)
        event.save(update_fields=UPDATE_FIELDS)
        posted = set(remembered(("posted",), set))
    if _after_commit(posted, {event.waiting_for} if status == EventStatus.WAITING else set()):
        inbox_nudge()
    return status


def events_replay(*, event_ids: list[str] | None = None, failed: bool = False, by: Actor) -> list[tuple[str, str]]:
    """Run events through their handlers again: the ones named (Stripe ids), or with ``failed`` every
    event that failed, waits or has an unknown customer. Audited; returns (stripe id, outcome) pairs."""
    qs = StripeEvent.objects.all()
    if event_ids:
        qs = qs.filter(stripe_id__in=event_ids)
    elif failed:
        qs = qs.filter(status__in=[EventStatus.FAILED, EventStatus.WAITING, EventStatus.UNMATCHED])
    else:
        return []
    outcomes = []
    for event in qs.order_by("id").only("pk", "stripe_id", "status"):
        with transaction.atomic():
            audit_record(
                actor=by,
                verb="stripe.event.replayed",
                target=event,
                before={"status": event.status},
                reason="replay requested",
            )
        outcomes.append((event.stripe_id, event_process(event.pk, again=True)))
    return outcomes


# --- Tasks for managers -------------------------------------------------------------------------------------
def _open_unknown_customer_task(event: StripeEvent, customer_id: str) -> None:
    task_open(
        kind="stripe.unknown_customer",
        title=f"Stripe customer {customer_id or '(none)'} isn't linked to a patient",
        detail=(
            f"Stripe sent {event.type} ({event.stripe_id}) for a customer Chairside doesn't know. Nothing was "
            "posted. If it belongs to one of our guarantors, link it, then replay the event from the Stripe "
            "events page."
        ),
        role=Role.MANAGER,
        priority=TaskPriority.HIGH,
        context={"customer": customer_id, "event": event.stripe_id},
        dedupe_key=f"stripe.unknown_customer:{customer_id}",
        by=ACTORS[EventSource.WEBHOOK],
    )


def _open_gave_up_task(event: StripeEvent) -> None:
    task_open(
        kind="stripe.event_failed",
        title=f"Stripe event {event.type} failed {event.attempts} times",
        detail=f"{event.stripe_id}: {event.last_error[:500]}\n"
        "Fix the cause, then replay it from the Stripe events page.",
        role=Role.MANAGER,
        priority=TaskPriority.HIGH,
        context={"event": event.stripe_id},
        dedupe_key=f"stripe.event_failed:{event.stripe_id}",
        by=ACTORS[EventSource.WEBHOOK],
    )
