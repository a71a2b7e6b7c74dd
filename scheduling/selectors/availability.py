"""Free time: which (start, provider) slots an appointment type can take at a location.

One code path serves the public booking page, the public JSON API, staff booking, reschedules, ASAP
offers and the re-check inside the booking transaction. ``CalendarSnapshot.load`` reads every row that
decides free time over a window in a fixed number of queries (no query per day, provider or
appointment); the rest is arithmetic in Python on epoch seconds.

Time: working hours and repeating blocks are wall-clock times in the location's zone and are turned into
UTC day by day with zoneinfo, so a spring-forward day has an hour less and a fall-back day an hour more,
and a 9:00 start stays 9:00 local on both. Slot starts step through real elapsed time from the start of
each working stretch, so a visit's length is its real length even across a change.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from billing.models import Location
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentType,
    Block,
    Operatory,
    Provider,
    SchedulingSettings,
    TimeOff,
    WorkingHours,
)

from .settings import scheduling_settings


def local_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time on a local date, as an aware UTC datetime. A time inside a spring-forward gap does
    not exist; it is read with the offset before the change (02:30 becomes 03:30 daylight time)."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day in UTC: 23 hours on a spring-forward day, 25 on a fall-back day."""
    return local_to_utc(day, time(0), zone), local_to_utc(day + timedelta(days=1), time(0), zone)


def _ts(value: datetime) -> int:
    return int(value.timestamp())


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


class _Busy:
    """Merged, sorted, half-open busy intervals in epoch seconds; overlap test by binary search."""

    __slots__ = ("starts", "ends")

    def __init__(self, intervals: Iterable[tuple[int, int]]):
        merged: list[list[int]] = []
        for s, e in sorted(intervals):
            if merged and s <= merged[-1][1]:
                if e > merged[-1][1]:
                    merged[-1][1] = e
            else:
                merged.append([s, e])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]

    def overlaps(self, s: int, e: int) -> bool:
        i = bisect_left(self.starts, e) - 1
        return i >= 0 and self.ends[i] > s

    def busy_until(self, s: int, e: int) -> int | None:
        """If [s, e) overlaps, the end of the last interval it overlaps (the earliest it could be free)."""
        i = bisect_left(self.starts, e) - 1
        if i >= 0 and self.ends[i] > s:
            return self.ends[i]
        return None


_EMPTY = _Busy(())


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    provider_id: int
    provider_name: str

    def local_start(self, zone: ZoneInfo) -> datetime:
        return self.start.astimezone(zone)

    @property
    def key(self) -> str:
        """A compact, stable id for a slot in links and forms: "<provider>-<epoch seconds>"."""
        return f"{self.provider_id}-{_ts(self.start)}"


_SLOT_KEY = re.compile(r"[0-9]{1,18}-[0-9]{1,11}")  # ASCII digits only: no signs, spaces or other scripts' digits


def parse_slot_key(key: str) -> tuple[int, datetime] | None:
    """(provider id, start) from a slot id, or None when it isn't one. Whether the time can be booked is the
    booking service's question, not this parser's."""
    if not isinstance(key, str) or not _SLOT_KEY.fullmatch(key):
        return None
    provider, ts = key.split("-", 1)
    try:
        return int(provider), _dt(int(ts))
    except (ValueError, OverflowError, OSError):
        return None


def slot_lookup(key: str, *, location: Location) -> tuple[Provider | None, datetime | None]:
    """The (provider, start) a slot id names, if that provider works at this location (one query)."""
    parsed = parse_slot_key(key or "")
    if parsed is None:
        return None, None
    provider_id, start = parsed
    provider = Provider.objects.filter(pk=provider_id, is_active=True, working_hours__location=location).first()
    return (provider, start) if provider is not None else (None, None)


@dataclass
class CalendarSnapshot:
    """The rows that decide free time for one appointment type at one location over [first_day, last_day]."""

    location: Location
    appointment_type: AppointmentType
    first_day: date
    last_day: date
    zone: ZoneInfo
    step_seconds: int
    providers: dict[int, tuple[str, int]]  # id -> (name, sort order)
    hours: dict[int, list[tuple[int, time, time, date | None, date | None]]]  # provider -> rows
    operatory_ids: list[int]
    provider_appts: dict[int, _Busy] = field(default_factory=dict)
    provider_other: dict[int, _Busy] = field(default_factory=dict)  # time off and blocks
    operatory_appts: dict[int, _Busy] = field(default_factory=dict)
    operatory_other: dict[int, _Busy] = field(default_factory=dict)
    earliest: datetime | None = None  # set by callers that apply the online minimum notice

    # --- loading -------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        *,
        location: Location,
        appointment_type: AppointmentType,
        first_day: date,
        last_day: date,
        provider_ids: Iterable[int] | None = None,
        ignore_appointment_id: int | None = None,
        settings: SchedulingSettings | None = None,
    ) -> CalendarSnapshot:
        """Read everything in at most eight queries, whatever the number of days, providers or appointments
        (five when the caller passes the settings and the type's allowed providers/rooms are prefetched)."""
        zone = location.zone
        settings = settings or scheduling_settings()
        # .all() uses a prefetch when the caller made one (online_types, the booking API), else one query each.
        allowed_providers = {p.pk for p in appointment_type.allowed_providers.all()}
        allowed_ops = {o.pk for o in appointment_type.allowed_operatories.all()}
        if provider_ids is not None:
            wanted = set(provider_ids)
            allowed_providers = allowed_providers & wanted if allowed_providers else wanted

        hours_qs = WorkingHours.objects.filter(location=location, provider__is_active=True).select_related("provider")
        if allowed_providers:
            hours_qs = hours_qs.filter(provider_id__in=allowed_providers)
        hours: dict[int, list] = defaultdict(list)
        providers: dict[int, tuple[str, int]] = {}
        for h in hours_qs.filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=last_day),
            Q(valid_until__isnull=True) | Q(valid_until__gte=first_day),
        ):
            hours[h.provider_id].append((h.weekday, h.start_time, h.end_time, h.valid_from, h.valid_until))
            providers[h.provider_id] = (h.provider.name, h.provider.sort_order)

        ops_qs = Operatory.objects.filter(location=location, is_active=True)
        if allowed_ops:
            ops_qs = ops_qs.filter(id__in=allowed_ops)
        operatory_ids = list(ops_qs.order_by("sort_order", "name", "id").values_list("id", flat=True))

        # Busy time may start before the window (a buffer, a long visit) and still reach into it.
        win_start = day_bounds(first_day, zone)[0] - timedelta(hours=12)
        win_end = day_bounds(last_day, zone)[1] + timedelta(hours=12)
        snap = cls(
            location=location,
            appointment_type=appointment_type,
            first_day=first_day,
            last_day=last_day,
            zone=zone,
            step_seconds=settings.slot_step_minutes * 60,
            providers=providers,
            hours=dict(hours),
            operatory_ids=operatory_ids,
        )
        provider_set = set(providers)
        op_set = set(operatory_ids)

        appts = Appointment.objects.filter(
            status__in=ACTIVE_STATUSES, occupied_start__lt=win_end, occupied_end__gt=win_start
        ).filter(Q(provider_id__in=provider_set) | Q(operatory_id__in=op_set))
        if ignore_appointment_id:
            appts = appts.exclude(pk=ignore_appointment_id)
        p_appts: dict[int, list] = defaultdict(list)
        o_appts: dict[int, list] = defaultdict(list)
        for pid, oid, s, e in appts.values_list("provider_id", "operatory_id", "occupied_start", "occupied_end"):
            interval = (_ts(s), _ts(e))
            if pid in provider_set:
                p_appts[pid].append(interval)
            if oid in op_set:
                o_appts[oid].append(interval)

        p_other: dict[int, list] = defaultdict(list)
        o_other: dict[int, list] = defaultdict(list)
        for pid, s, e in TimeOff.objects.filter(
            provider_id__in=provider_set, start__lt=win_end, end__gt=win_start
        ).values_list("provider_id", "start", "end"):
            p_other[pid].append((_ts(s), _ts(e)))

        blocks = Block.objects.filter(location=location, start__lt=win_end).filter(
            Q(repeat=Block.Repeat.NONE, end__gt=win_start)
            | (~Q(repeat=Block.Repeat.NONE) & (Q(repeat_until__isnull=True) | Q(repeat_until__gte=first_day)))
        )
        for block in blocks.only("provider_id", "operatory_id", "start", "end", "repeat", "repeat_until"):
            for s, e in _block_occurrences(block, zone, first_day - timedelta(days=1), last_day + timedelta(days=1)):
                interval = (_ts(s), _ts(e))
                if block.provider_id is None and block.operatory_id is None:
                    for pid in provider_set:
                        p_other[pid].append(interval)
                    for oid in op_set:
                        o_other[oid].append(interval)
                else:
                    if block.provider_id in provider_set:
                        p_other[block.provider_id].append(interval)
                    if block.operatory_id in op_set:
                        o_other[block.operatory_id].append(interval)

        snap.provider_appts = {pid: _Busy(v) for pid, v in p_appts.items()}
        snap.operatory_appts = {oid: _Busy(v) for oid, v in o_appts.items()}
        snap.provider_other = {pid: _Busy(v) for pid, v in p_other.items()}
        snap.operatory_other = {oid: _Busy(v) for oid, v in o_other.items()}
        return snap

    # --- questions -------------------------------------------------------------------------------------
    def occupied(self, start: datetime) -> tuple[datetime, datetime, datetime]:
        """(occupied start, visit end, occupied end) for a visit of this type starting at ``start``."""
        t = self.appointment_type
        end = start + timedelta(minutes=t.duration_minutes)
        return start - timedelta(minutes=t.buffer_before_minutes), end, end + timedelta(minutes=t.buffer_after_minutes)

    def working_stretches(self, provider_id: int, day: date) -> list[tuple[datetime, datetime]]:
        out = []
        for weekday, start_time, end_time, valid_from, valid_until in self.hours.get(provider_id, ()):
            if weekday != day.weekday():
                continue
            if (valid_from and day < valid_from) or (valid_until and day > valid_until):
                continue
            out.append((local_to_utc(day, start_time, self.zone), local_to_utc(day, end_time, self.zone)))
        return sorted(out)

    def working_days(self) -> set[date]:
        """Days of the window on which at least one of the snapshot's providers works here."""
        out = set()
        day = self.first_day
        while day <= self.last_day:
            if any(self.working_stretches(pid, day) for pid in self.providers):
                out.add(day)
            day += timedelta(days=1)
        return out

    def within_hours(self, provider_id: int, start: datetime, end: datetime) -> bool:
        day = start.astimezone(self.zone).date()
        return any(s <= start and end <= e for s, e in self.working_stretches(provider_id, day))

    def provider_free(self, provider_id: int, occ_start: datetime, occ_end: datetime, *, blocks: bool = True) -> bool:
        s, e = _ts(occ_start), _ts(occ_end)
        if self.provider_appts.get(provider_id, _EMPTY).overlaps(s, e):
            return False
        return not (blocks and self.provider_other.get(provider_id, _EMPTY).overlaps(s, e))

    def free_operatories(self, occ_start: datetime, occ_end: datetime, *, blocks: bool = True) -> list[int]:
        s, e = _ts(occ_start), _ts(occ_end)
        return [
            oid
            for oid in self.operatory_ids
            if not self.operatory_appts.get(oid, _EMPTY).overlaps(s, e)
            and not (blocks and self.operatory_other.get(oid, _EMPTY).overlaps(s, e))
        ]

    def slots(self, *, earliest: datetime | None = None, provider_id: int | None = None) -> dict[date, list[Slot]]:
        """Every bookable (start, provider) on each day of the window, in time order. A slot needs the visit
        inside one working stretch, and its occupied range (visit plus buffers) clear of the provider's
        appointments, time off and blocks and of at least one allowed operatory's."""
        t = self.appointment_type
        before, duration, after = t.buffer_before_minutes * 60, t.duration_minutes * 60, t.buffer_after_minutes * 60
        floor = _ts(earliest) if earliest else None
        step = self.step_seconds
        ops = [
            (self.operatory_appts.get(oid, _EMPTY), self.operatory_other.get(oid, _EMPTY)) for oid in self.operatory_ids
        ]
        out: dict[date, list[Slot]] = {}
        pids = [provider_id] if provider_id is not None else list(self.providers)
        day = self.first_day
        while day <= self.last_day:
            found: list[tuple[int, int, int]] = []  # (start, provider sort order, provider id)
            for pid in pids:
                if pid not in self.providers:
                    continue
                p_appts = self.provider_appts.get(pid, _EMPTY)
                p_other = self.provider_other.get(pid, _EMPTY)
                for stretch_start, stretch_end in self.working_stretches(pid, day):
                    first, last = _ts(stretch_start), _ts(stretch_end) - duration
                    s = first
                    if floor is not None and s < floor:
                        s = first + -(-(floor - first) // step) * step  # the first step on or after the floor
                    while s <= last:
                        occ_s, occ_e = s - before, s + duration + after
                        blocked = p_appts.busy_until(occ_s, occ_e) or p_other.busy_until(occ_s, occ_e)
                        if blocked:
                            # Jump to the first step whose occupied range starts after the busy interval.
                            s = first + -(-(blocked + before - first) // step) * step
                            continue
                        if any(not a.overlaps(occ_s, occ_e) and not o.overlaps(occ_s, occ_e) for a, o in ops):
                            found.append((s, self.providers[pid][1], pid))
                        s += step
            if found:
                found.sort()
                out[day] = [
                    Slot(start=_dt(s), end=_dt(s + duration), provider_id=pid, provider_name=self.providers[pid][0])
                    for s, _, pid in found
                ]
            day += timedelta(days=1)
        return out


def nearest_in(slots_by_day: dict[date, list[Slot]], around: datetime, limit: int = 3) -> list[Slot]:
    """The ``limit`` slots closest in time to ``around``, in time order."""
    every = [slot for slots in slots_by_day.values() for slot in slots]
    every.sort(key=lambda s: (abs((s.start - around).total_seconds()), s.start, s.provider_id))
    return sorted(every[:limit], key=lambda s: s.start)


def _block_occurrences(block: Block, zone: ZoneInfo, first: date, last: date) -> list[tuple[datetime, datetime]]:
    if block.repeat == Block.Repeat.NONE:
        return [(block.start, block.end)]
    local_start, local_end = block.start.astimezone(zone), block.end.astimezone(zone)
    span_days = (local_end.date() - local_start.date()).days
    day = max(local_start.date(), first)
    stop = min(block.repeat_until, last) if block.repeat_until else last
    out = []
    while day <= stop:
        weekday = day.weekday()
        if (block.repeat == Block.Repeat.WEEKDAYS and weekday < 5) or (
            block.repeat == Block.Repeat.WEEKLY and weekday == local_start.weekday()
        ):
            out.append(
                (
                    local_to_utc(day, local_start.time(), zone),
                    local_to_utc(day + timedelta(days=span_days), local_end.time(), zone),
                )
            )
        day += timedelta(days=1)
    return out


@dataclass(frozen=True)
class BookingWindow:
    """The days an online patient may pick from, and the earliest start they may take."""

    first_day: date
    last_day: date
    earliest: datetime


def online_window(
    *, location: Location, appointment_type: AppointmentType, now: datetime | None = None
) -> BookingWindow:
    now = now or timezone.now()
    today = now.astimezone(location.zone).date()
    return BookingWindow(
        first_day=today,
        last_day=today + timedelta(days=appointment_type.max_days_ahead),
        earliest=now + timedelta(minutes=appointment_type.min_notice_minutes),
    )


def online_slots(
    *,
    location: Location,
    appointment_type: AppointmentType,
    first_day: date,
    last_day: date,
    provider_id: int | None = None,
    now: datetime | None = None,
    ignore_appointment_id: int | None = None,
) -> dict[date, list[Slot]]:
    """Slots a patient may book online (the public page, the public API, reschedules): the type's minimum
    notice and how-far-ahead limit applied, days outside the limit simply empty."""
    return online_days(
        location=location,
        appointment_type=appointment_type,
        first_day=first_day,
        last_day=last_day,
        provider_id=provider_id,
        now=now,
        ignore_appointment_id=ignore_appointment_id,
    )[0]


def online_days(
    *,
    location: Location,
    appointment_type: AppointmentType,
    first_day: date,
    last_day: date,
    provider_id: int | None = None,
    now: datetime | None = None,
    ignore_appointment_id: int | None = None,
) -> tuple[dict[date, list[Slot]], set[date]]:
    """``online_slots`` and, from the same read, the days on which anyone who could give this type works
    (so a page can say "full" for a booked-up day and "closed" for a day nobody works)."""
    window = online_window(location=location, appointment_type=appointment_type, now=now)
    first, last = max(first_day, window.first_day), min(last_day, window.last_day)
    if first > last:
        return {}, set()
    snap = CalendarSnapshot.load(
        location=location,
        appointment_type=appointment_type,
        first_day=first,
        last_day=last,
        provider_ids=[provider_id] if provider_id else None,
        ignore_appointment_id=ignore_appointment_id,
    )
    return snap.slots(earliest=window.earliest, provider_id=provider_id), snap.working_days()


def nearest_slots(
    *,
    location: Location,
    appointment_type: AppointmentType,
    around: datetime,
    limit: int = 3,
    now: datetime | None = None,
    ignore_appointment_id: int | None = None,
) -> list[Slot]:
    """The open online slots nearest in time to ``around`` (the answer to "that time was just taken"). Looks
    at that day and the next two first (the usual case, and cheap), then a fortnight around it."""
    day = around.astimezone(location.zone).date()
    days: dict[date, list[Slot]] = {}
    for before, after in ((0, 2), (3, 10)):
        days = online_slots(
            location=location,
            appointment_type=appointment_type,
            first_day=day - timedelta(days=before),
            last_day=day + timedelta(days=after),
            now=now,
            ignore_appointment_id=ignore_appointment_id,
        )
        if sum(len(v) for v in days.values()) >= limit:
            break
    return nearest_in(days, around, limit)


def online_types(*, location: Location) -> list[AppointmentType]:
    """Active, online-bookable types that someone at this location can actually give (hours and a room)."""
    types = list(
        AppointmentType.objects.filter(is_active=True, online_bookable=True).prefetch_related(
            "allowed_providers", "allowed_operatories"
        )
    )
    providers_here = set(
        WorkingHours.objects.filter(location=location, provider__is_active=True).values_list("provider_id", flat=True)
    )
    ops_here = set(Operatory.objects.filter(location=location, is_active=True).values_list("id", flat=True))
    out = []
    for t in types:
        allowed_p = {p.pk for p in t.allowed_providers.all()} or providers_here
        allowed_o = {o.pk for o in t.allowed_operatories.all()} or ops_here
        if allowed_p & providers_here and allowed_o & ops_here:
            out.append(t)
    return out
