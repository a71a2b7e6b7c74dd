"""Online booking: availability over a full calendar, and a booking surge against the real server.

1. Availability for 10 providers x 5 operatories x 60 days with a full calendar: the wall time of the
   availability read (scheduling.selectors.availability.online_slots) beside the time to fetch the rows it
   reads (the same SQL it issues, re-run raw), and its query count beside the count for one empty day.
2. A booking surge: 50 concurrent clients on loopback against gunicorn + PostgreSQL, each submitting
   requests for overlapping slots to POST /api/v1/booking/bookings/: holds per second, p95 latency, the
   number of double-bookings (overlapping active appointments for one provider or one operatory, counted
   in SQL afterwards; must be 0) and the server's peak memory. Medians over rounds.

Uses its own database (<BENCH_DATABASE_URL>_booking), so it can run beside other benchmark modules.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from urllib.parse import urlparse

from bench.common import Figure, database_url, fresh_database, median_time, peak_rss_mb, setup_django

PROVIDERS = 10
OPERATORIES = 5
DAYS = 60
CLIENTS = 50


def _own_url() -> str:
    parts = urlparse(database_url())
    return parts._replace(path=parts.path.rstrip("/") + "_booking").geturl()


# --- set-up ----------------------------------------------------------------------------------------------
def _clinic():
    from billing.models import Location
    from billing.selectors.practice import practice_get
    from scheduling.models import AppointmentType, Operatory, Provider, WorkingHours

    location, _ = Location.objects.get_or_create(
        slug="bench", defaults={"practice": practice_get(), "name": "Bench Dental", "time_zone": "America/Chicago"}
    )
    providers = [Provider.objects.create(name=f"Dr. Bench {i}", sort_order=i) for i in range(PROVIDERS)]
    WorkingHours.objects.bulk_create(
        WorkingHours(provider=p, location=location, weekday=d, start_time=dtime(8), end_time=dtime(17))
        for p in providers
        for d in range(7)
    )
    ops = [Operatory.objects.create(location=location, name=f"Op {i}", sort_order=i) for i in range(OPERATORIES)]
    kind = AppointmentType.objects.create(
        name="Bench visit",
        duration_minutes=60,
        buffer_after_minutes=10,
        online_bookable=True,
        min_notice_minutes=0,
        max_days_ahead=120,
    )
    return location, providers, ops, kind


def _fill(location, providers, ops, kind, first: date, days: int, rng: random.Random) -> int:
    """A full book: every operatory back to back (70 minutes occupied each), providers rotating, about one
    visit in fifteen left open so the answer isn't empty. Rows written directly (set-up, not the subject)."""
    from billing.models import Household, Patient
    from scheduling.models import Appointment, AppointmentSource, AppointmentStatus
    from scheduling.selectors.availability import local_to_utc

    household = Household.objects.create(name="Bench household")
    patients = Patient.objects.bulk_create(
        Patient(first_name="Bench", last_name=f"Patient{i}", date_of_birth=date(1980, 1, 1), household=household)
        for i in range(200)
    )
    rows = []
    zone = location.zone
    for d in range(days):
        day = first + timedelta(days=d)
        for o, op in enumerate(ops):
            minute = 8 * 60
            turn = o
            while minute + 60 <= 17 * 60:
                start = local_to_utc(day, dtime(minute // 60, minute % 60), zone)
                if rng.random() > 1 / 15:
                    provider = providers[turn % PROVIDERS]
                    rows.append(
                        Appointment(
                            location=location,
                            provider=provider,
                            operatory=op,
                            appointment_type=kind,
                            patient=rng.choice(patients),
                            status=AppointmentStatus.CONFIRMED,
                            source=AppointmentSource.IMPORT,
                            start=start,
                            end=start + timedelta(minutes=60),
                            occupied_start=start,
                            occupied_end=start + timedelta(minutes=70),
                        )
                    )
                turn += OPERATORIES  # the next provider in this room; no provider is in two rooms at once
                minute += 75
    Appointment.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


# --- 1. availability -------------------------------------------------------------------------------------
def _availability(quick: bool) -> list[Figure]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from scheduling.selectors.availability import online_slots

    location, providers, ops, kind = _clinic()
    first = timezone.now().astimezone(location.zone).date() + timedelta(days=1)
    days = 14 if quick else DAYS
    appointments = _fill(location, providers, ops, kind, first, days, random.Random(4))
    last = first + timedelta(days=days - 1)

    def compute():
        return online_slots(location=location, appointment_type=kind, first_day=first, last_day=last)

    with CaptureQueriesContext(connection) as captured:
        found = compute()
    statements = [q["sql"] for q in captured.captured_queries]
    slots = sum(len(v) for v in found.values())

    def fetch():
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()

    repeats = 3 if quick else 9
    compute()
    fetch()
    wall, wall_samples = median_time(compute, repeats)
    fetched, fetch_samples = median_time(fetch, repeats)
    with CaptureQueriesContext(connection) as one_day:
        online_slots(
            location=location,
            appointment_type=kind,
            first_day=last + timedelta(days=30),
            last_day=last + timedelta(days=30),
        )
    return [
        Figure(
            name=f"availability {PROVIDERS}prov x {OPERATORIES}ops x {days}d, full",
            value=wall * 1000,
            unit="ms",
            baseline=fetched * 1000,
            baseline_label="ms fetching its rows",
            note=f"{appointments} appointments in the window, {slots} open slots found; ratio = compute / fetch",
            samples=wall_samples,
        ),
        Figure(
            name="availability queries (full window vs one empty day)",
            value=len(statements),
            unit="queries",
            baseline=len(one_day.captured_queries),
            baseline_label="for 1 empty day",
            goal="same",
            ok=len(statements) == len(one_day.captured_queries),
        ),
    ]


# --- 2. booking surge ------------------------------------------------------------------------------------
def _overlaps_sql() -> str:
    return """
        SELECT count(*) FROM scheduling_appointment a JOIN scheduling_appointment b
          ON a.id < b.id
         AND (a.provider_id = b.provider_id OR a.operatory_id = b.operatory_id)
         AND tstzrange(a.occupied_start, a.occupied_end) && tstzrange(b.occupied_start, b.occupied_end)
        WHERE a.status IN ('hold','confirmed','checked_in','completed')
          AND b.status IN ('hold','confirmed','checked_in','completed')
    """


def _surge(url: str, quick: bool) -> list[Figure]:
    import requests
    from django.db import connection, connections
    from django.utils import timezone

    from billing.models import Location
    from scheduling.models import Appointment, AppointmentType, Provider
    from scheduling.selectors.availability import local_to_utc

    location = Location.objects.get(slug="bench")
    kind = AppointmentType.objects.get(name="Bench visit")
    providers = list(Provider.objects.filter(name__startswith="Dr. Bench").order_by("sort_order"))
    today = timezone.now().astimezone(location.zone).date()
    connections.close_all()

    workers = 2
    threads = 4
    proc, base, log_path = _start_server(url, workers=workers, threads=threads)
    endpoint = f"{base}/api/v1/booking/bookings/"
    try:
        # Warm up every worker (imports, first connections) and measure an uncontended booking.
        session = requests.Session()
        solo = []
        warm_day = today + timedelta(days=DAYS + 5)
        for i in range(12):
            start = local_to_utc(warm_day, dtime(8 + (i % 9)), location.zone)
            body = _body(location, kind, providers[i % PROVIDERS], start, f"warm-{i}")
            t0 = time.perf_counter()
            r = session.post(endpoint, json=body, headers={"Idempotency-Key": f"warm-{i:06d}"}, timeout=30)
            solo.append(time.perf_counter() - t0)
            assert r.status_code in (201, 409), r.text[:300]
        idle_rss = _server_rss(proc.pid)

        rounds = 2 if quick else 5
        per_client = 2 if quick else 4
        holds_per_s, answers_per_s, p95s, all_latencies = [], [], [], []
        for rnd in range(rounds):
            day = today + timedelta(days=DAYS + 10 + rnd)
            rng = random.Random(rnd)
            # Overlapping targets: each provider's 8:00-12:00 in 15-minute steps (60-minute visits).
            targets = [
                (p, local_to_utc(day, dtime(8 + k // 4, 15 * (k % 4)), location.zone))
                for p in providers
                for k in range(16)
            ]
            latencies: list[float] = []
            statuses: list[int] = []
            barrier = threading.Barrier(CLIENTS)
            lock = threading.Lock()

            def client(
                c: int,
                rng=rng,
                targets=targets,
                latencies=latencies,
                statuses=statuses,
                barrier=barrier,
                rnd=rnd,
                lock=lock,
            ):
                s = requests.Session()
                picks = [rng.choice(targets) for _ in range(per_client)]
                barrier.wait()
                for j, (p, start) in enumerate(picks):
                    key = f"surge-{rnd}-{c}-{j}"
                    t0 = time.perf_counter()
                    r = s.post(
                        endpoint,
                        json=_body(location, kind, p, start, key),
                        headers={"Idempotency-Key": key},
                        timeout=60,
                    )
                    elapsed = time.perf_counter() - t0
                    with lock:
                        latencies.append(elapsed)
                        statuses.append(r.status_code)

            pool = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
            t0 = time.perf_counter()
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            wall = time.perf_counter() - t0
            held = statuses.count(201)
            unexpected = [s for s in statuses if s not in (201, 409)]
            assert not unexpected, f"unexpected answers: {unexpected[:5]}"
            holds_per_s.append(held / wall)
            answers_per_s.append(len(statuses) / wall)
            p95s.append(statistics.quantiles(latencies, n=20)[18])
            all_latencies += latencies
        peak = _server_rss(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    connection.connect()
    with connection.cursor() as cursor:
        cursor.execute(_overlaps_sql())
        double_booked = cursor.fetchone()[0]
    holds_total = Appointment.objects.filter(source="online", idempotency_key__startswith="surge-").count()
    solo_p50 = statistics.median(solo)
    return [
        Figure(
            name=f"booking surge: holds/s ({CLIENTS} clients, overlapping slots)",
            value=statistics.median(holds_per_s),
            unit="holds/s",
            baseline=1 / solo_p50,
            baseline_label="bookings/s, one client alone",
            note=f"{rounds} rounds x {CLIENTS} clients x {per_client} requests; {holds_total} holds in all; "
            f"gunicorn {workers} workers x {threads} threads, DB_CONN_MAX_AGE=60; server log {log_path}",
            samples=holds_per_s,
        ),
        Figure(
            name="booking surge: answers/s (held or taken)",
            value=statistics.median(answers_per_s),
            unit="req/s",
            baseline=1 / solo_p50,
            baseline_label="req/s, one client alone",
            note="every request answered 201 held or 409 taken with alternatives; nothing else",
            samples=answers_per_s,
        ),
        Figure(
            name="booking surge: p95 latency",
            value=statistics.median(p95s) * 1000,
            unit="ms",
            baseline=solo_p50 * 1000,
            baseline_label="ms p50 uncontended",
            samples=[x * 1000 for x in p95s],
        ),
        Figure(
            name="booking surge: double-bookings",
            value=double_booked,
            unit="pairs",
            goal="0",
            ok=double_booked == 0,
            note="overlapping active appointments for one provider or operatory, whole database",
        ),
        Figure(
            name="booking surge: server peak memory (master + workers)",
            value=peak,
            unit="MiB",
            baseline=idle_rss,
            baseline_label="MiB after warm-up",
        ),
    ]


def _start_server(url: str, *, workers: int, threads: int):
    """bench.common.start_gunicorn's server, with its log (Django logs every 409 "taken" as a warning) in a
    file instead of this report, and persistent database connections as production would run them."""
    from bench.common import ROOT, start_gunicorn

    log_path = ROOT / "var" / "bench-booking-gunicorn.log"
    proc, base = start_gunicorn(url, workers=workers, threads=threads, log_path=log_path, DB_CONN_MAX_AGE="60")
    return proc, base, log_path


def _body(location, kind, provider, start: datetime, key: str) -> dict:
    n = abs(hash(key)) % 10**6
    return {
        "location": location.slug,
        "appointment_type": kind.pk,
        "slot": f"{provider.pk}-{int(start.timestamp())}",
        "first_name": "Surge",
        "last_name": "Client" + "".join(chr(97 + int(d)) for d in f"{n:06d}"),
        # Varied birth dates, as in a real practice: identity matching reads the charts born that day.
        "date_of_birth": (date(1940, 1, 1) + timedelta(days=n % 25000)).isoformat(),
        "email": f"surge{n}@example.com",
        "phone": f"+1217555{n % 10000:04d}",
    }


def _server_rss(master_pid: int) -> float:
    """Peak resident memory (VmHWM) of the gunicorn master and its workers, summed."""
    pids = [master_pid]
    try:
        with open(f"/proc/{master_pid}/task/{master_pid}/children") as fh:
            pids += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    return sum(peak_rss_mb(pid) for pid in pids)


def run(quick: bool) -> list[Figure]:
    url = fresh_database(_own_url())
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    setup_django(url)
    figures = _availability(quick)
    figures += _surge(url, quick)
    return figures
