"""Concurrency claims, tested with real concurrent connections (STYLE.md): threads, each with its own
database connection, released together by a barrier."""

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.conftest import ON_POSTGRES, postgres_only
from tests.scheduling import races

ROOT = Path(__file__).resolve().parents[2]


def _day(clinic):
    return timezone.now().astimezone(clinic.location.zone).date() + timedelta(days=7)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_requests_for_one_slot_make_one_hold_on_postgres(clinic):
    result = races.same_slot(clinic, _day(clinic))
    assert result["outcomes"] == {"held": 1, "taken": 49}
    assert result["holds"] == 1
    assert result["requests"] == 50  # every attempt is on record for the daily reconciliation


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_fifty_requests_for_overlapping_times_never_error_or_double_book_on_postgres(clinic):
    result = races.overlapping_storm(clinic, _day(clinic))
    assert set(result["outcomes"]) <= {"held", "taken"}, result["outcomes"]
    assert sum(result["outcomes"].values()) == 50
    assert result["overlaps"] == 0
    assert 2 <= result["holds"] == result["outcomes"]["held"]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_reschedule_racing_another_booking_never_double_books_on_postgres(clinic):
    report = races.reschedule_vs_booking(clinic, _day(clinic))
    assert report["errors"] == []
    assert report["double_booked"] == 0
    assert report["lost_appointments"] == 0
    for outcome in report["rounds"]:
        # Exactly one of the two got the contested time (or, for the old slot, the booker got it only if
        # the move had committed first).
        assert outcome in (
            ["book-taken", "moved"],
            ["book-held", "move-taken"],
            ["book-held", "moved"],
        )
    contested_new = report["rounds"][0::2]
    assert all(o != ["book-held", "moved"] for o in contested_new)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_double_click_racing_itself_makes_one_hold(clinic):
    import threading

    from django.db import connection

    from scheduling.models import Appointment
    from scheduling.selectors.availability import local_to_utc
    from scheduling.services.online import hold_place
    from tests.scheduling.conftest import requester

    start = local_to_utc(_day(clinic), races._nine(), clinic.location.zone)
    barrier, results = threading.Barrier(4), []

    def click():
        try:
            barrier.wait()
            r = hold_place(
                location=clinic.location,
                appointment_type=clinic.type,
                provider=clinic.providers[0],
                start=start,
                requester=requester(),
                idempotency_key="one-form-render-key",
            )
            results.append((r.outcome, r.appointment.pk if r.appointment else None))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Appointment.objects.count() == 1
    assert set(results) == {("held", Appointment.objects.get().pk)}


@pytest.fixture(scope="module")
def sqlite_races(tmp_path_factory):
    """The same scenarios on SQLite: a fresh file database in a child process (migrated there), so 50
    threads each really open their own connection and meet SQLite's single write lock."""
    if ON_POSTGRES:
        pytest.skip("the SQLite variant runs when the suite runs on SQLite")
    path = tmp_path_factory.mktemp("race") / "race.sqlite3"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.scheduling.races", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    return json.loads(line.removeprefix("RESULT "))


def test_fifty_simultaneous_requests_for_one_slot_make_one_hold_on_sqlite(sqlite_races):
    result = sqlite_races["same_slot"]
    assert result["outcomes"] == {"held": 1, "taken": 49}
    assert result["holds"] == 1
    assert result["requests"] == 50


def test_fifty_requests_for_overlapping_times_never_error_or_double_book_on_sqlite(sqlite_races):
    result = sqlite_races["storm"]
    assert set(result["outcomes"]) <= {"held", "taken"}, result["outcomes"]
    assert sum(result["outcomes"].values()) == 50
    assert result["overlaps"] == 0
    assert 2 <= result["holds"] == result["outcomes"]["held"]


def test_a_reschedule_racing_another_booking_never_double_books_on_sqlite(sqlite_races):
    report = sqlite_races["reschedule"]
    assert report["errors"] == []
    assert report["double_booked"] == 0
    assert report["lost_appointments"] == 0
    assert all(o != ["book-held", "moved"] for o in report["rounds"][0::2])


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_real_deadlock_on_the_exclusion_constraint_is_read_as_a_lost_race(clinic):
    """Two transactions that each hold one uncommitted row and then insert a row clashing with the other's
    wait for each other; PostgreSQL aborts one (40P01). The write path must read that as "re-read, you
    lost", not as a crash. (Bookings normally queue on advisory locks and never get here; this is the
    fallback.)"""
    import threading

    from django.db import connection, transaction

    from scheduling.models import Appointment
    from scheduling.selectors.availability import local_to_utc
    from scheduling.services.booking import _Conflict, _guarded_save
    from tests.scheduling.factories import AppointmentFactory, OperatoryFactory, ProviderFactory

    start = local_to_utc(_day(clinic), races._nine(), clinic.location.zone)
    p1, p2 = ProviderFactory(), ProviderFactory()
    rooms = [OperatoryFactory(location=clinic.location) for _ in range(4)]

    def row(provider, room):
        return AppointmentFactory.build(
            location=clinic.location,
            provider=provider,
            operatory=room,
            appointment_type=clinic.type,
            start=start,
            patient=None,
            status="hold",
        )

    barrier, results = threading.Barrier(2), {}

    def worker(name, mine, theirs):
        try:
            with transaction.atomic():
                mine.save()
                barrier.wait()
                try:
                    _guarded_save(theirs, force_insert=True)
                    results[name] = "saved"
                except _Conflict:
                    results[name] = "conflict"
                    raise
        except _Conflict:
            pass
        finally:
            connection.close()

    a = threading.Thread(target=worker, args=("a", row(p1, rooms[0]), row(p2, rooms[2])))
    b = threading.Thread(target=worker, args=("b", row(p2, rooms[1]), row(p1, rooms[3])))
    for t in (a, b):
        t.start()
    for t in (a, b):
        t.join()
    assert sorted(results.values()) == ["conflict", "saved"]
    assert Appointment.objects.count() == 2  # the survivor's two rows; the loser rolled back
