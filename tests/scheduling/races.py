"""Concurrency scenarios run with real threads, each on its own database connection.

Used in-process against PostgreSQL (tests/scheduling/test_concurrency.py) and, for SQLite, by
``python -m tests.scheduling.races <file.sqlite3>``, which migrates a fresh file database (an in-memory
test database can't be shared by independent connections) and prints the results as JSON.
"""

from __future__ import annotations

import json
import os
import string
import sys
from collections import Counter
from datetime import date, timedelta
from types import SimpleNamespace

from tests.concurrency import run_at_once

N_CLIENTS = 50


def _letters(i: int) -> str:
    return string.ascii_lowercase[i % 26] * (1 + i // 26)


def same_slot(clinic, day: date, n: int = N_CLIENTS) -> dict:
    """n different people request one provider's 9:00 at the same moment."""
    from scheduling.models import Appointment, AppointmentStatus, BookingRequest
    from scheduling.selectors.availability import local_to_utc
    from scheduling.services.online import Requester, hold_place

    start = local_to_utc(day, _nine(), clinic.location.zone)

    def attempt(i: int):
        def go():
            return hold_place(
                location=clinic.location,
                appointment_type=clinic.type,
                provider=clinic.providers[0],
                start=start,
                requester=Requester(
                    first_name=f"Racer{_letters(i)}",
                    last_name="Parks",
                    date_of_birth=date(1980, 1, 1) + timedelta(days=i),
                    email=f"racer{i}@example.com",
                    phone=f"+1217555{i:04d}",
                ),
                idempotency_key=f"race-{i:04d}-{start.timestamp():.0f}",
            ).outcome

        return go

    results = run_at_once([attempt(i) for i in range(n)])
    active = Appointment.objects.filter(
        provider=clinic.providers[0], start=start, status=AppointmentStatus.HOLD
    ).count()
    return {
        "outcomes": dict(Counter(results)),
        "holds": active,
        "requests": BookingRequest.objects.filter(requested_start=start).count(),
    }


def overlapping_storm(clinic, day: date, n: int = N_CLIENTS) -> dict:
    """n people request overlapping times (9:00-10:00 every 15 minutes) with either provider at once, so
    inserts clash on the provider and on the operatory constraints in every order (on PostgreSQL some
    end in the deadlock the database resolves by aborting one: that one must retry, not fail)."""
    from datetime import time

    from scheduling.models import ACTIVE_STATUSES, Appointment
    from scheduling.selectors.availability import local_to_utc
    from scheduling.services.online import Requester, hold_place

    zone = clinic.location.zone

    def attempt(i: int):
        start = local_to_utc(day, time(9, 15 * (i % 5) % 60), zone) if i % 5 < 4 else local_to_utc(day, time(10), zone)

        def go():
            return hold_place(
                location=clinic.location,
                appointment_type=clinic.type,
                provider=clinic.providers[i % 2],
                start=start,
                requester=Requester(
                    first_name=f"Storm{_letters(i)}",
                    last_name="Parks",
                    date_of_birth=date(1970, 1, 1) + timedelta(days=i),
                    email=f"storm{i}@example.com",
                    phone=f"+1217555{1000 + i:04d}",
                ),
                idempotency_key=f"storm-{i:04d}-{day.isoformat()}",
            ).outcome

        return go

    results = run_at_once([attempt(i) for i in range(n)])
    from scheduling.selectors.availability import day_bounds

    first, last = day_bounds(day, zone)
    active = list(
        Appointment.objects.filter(status__in=ACTIVE_STATUSES, start__gte=first, start__lt=last).values_list(
            "provider_id", "operatory_id", "occupied_start", "occupied_end"
        )
    )
    overlaps = sum(
        1
        for i, a in enumerate(active)
        for b in active[i + 1 :]
        if (a[0] == b[0] or a[1] == b[1]) and a[2] < b[3] and b[2] < a[3]
    )
    return {"outcomes": dict(Counter(results)), "overlaps": overlaps, "holds": len(active)}


def reschedule_vs_booking(clinic, day: date, rounds: int = 6) -> dict:
    """A patient reschedules into a time while someone else books that same time (even rounds), or books the
    time the patient is leaving (odd rounds). Whatever the interleaving, one time is never held twice and
    the rescheduling patient never ends up with no time at all."""
    from billing.actors import Actor
    from scheduling.models import ACTIVE_STATUSES, Appointment
    from scheduling.selectors.availability import local_to_utc
    from scheduling.services.booking import SlotTaken, appointment_book, appointment_reschedule
    from scheduling.services.online import Requester, hold_place
    from tests.billing.factories import PatientFactory

    zone = clinic.location.zone
    lee = clinic.providers[0]
    report = {"rounds": [], "double_booked": 0, "lost_appointments": 0, "errors": []}
    for r in range(rounds):
        d = day + timedelta(days=r)
        old = local_to_utc(d, _nine(), zone)
        new = old + timedelta(hours=4)
        appt = appointment_book(
            location=clinic.location,
            appointment_type=clinic.type,
            provider=lee,
            start=old,
            patient=PatientFactory(home_location=clinic.location),
            by=Actor.system_component("race"),
        )
        target = new if r % 2 == 0 else old

        def move(appt=appt, new=new):
            try:
                appointment_reschedule(appointment=appt, start=new, provider=lee, by=Actor.system_component("race"))
                return "moved"
            except SlotTaken:
                return "move-taken"

        def book(target=target, r=r):
            return (
                "book-"
                + hold_place(
                    location=clinic.location,
                    appointment_type=clinic.type,
                    provider=lee,
                    start=target,
                    requester=Requester(
                        first_name=f"Other{_letters(r)}",
                        last_name="Booker",
                        date_of_birth=date(1990, 3, 3),
                        email=f"other{r}@example.com",
                        phone=f"+1217555{2000 + r:04d}",
                    ),
                    idempotency_key=f"rr-{r}-{target.timestamp():.0f}",
                ).outcome
            )

        results = run_at_once([move, book])
        for slot in (old, new):
            n = Appointment.objects.filter(provider=lee, start=slot, status__in=ACTIVE_STATUSES).count()
            report["double_booked"] += n > 1
        appt.refresh_from_db()
        if appt.status not in ACTIVE_STATUSES or appt.start not in (old, new):
            report["lost_appointments"] += 1
        report["errors"] += [x for x in results if str(x).startswith("error")]
        report["rounds"].append(sorted(results))
    return report


def _nine():
    from datetime import time

    return time(9)


def make_clinic():
    """The clinic of tests/scheduling/conftest.py, for use outside pytest."""
    from tests.billing.factories import LocationFactory
    from tests.scheduling.factories import (
        AppointmentTypeFactory,
        OperatoryFactory,
        ProviderFactory,
        WorkingHoursFactory,
    )

    location = LocationFactory(slug="race", name="Race Dental", time_zone="America/Chicago")
    providers = [ProviderFactory(name="Dr. Ada Lee"), ProviderFactory(name="Dr. Ben Ortiz")]
    for provider in providers:
        for weekday in range(7):
            WorkingHoursFactory(provider=provider, location=location, weekday=weekday)
    operatories = [OperatoryFactory(location=location, name=f"Op {n}") for n in (1, 2)]
    cleaning = AppointmentTypeFactory(name="Cleaning", duration_minutes=60, buffer_after_minutes=10)
    return SimpleNamespace(location=location, providers=providers, operatories=operatories, type=cleaning)


def main(path: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    clinic = make_clinic()
    day = timezone.now().astimezone(clinic.location.zone).date() + timedelta(days=7)
    out = {
        "same_slot": same_slot(clinic, day),
        "storm": overlapping_storm(clinic, day + timedelta(days=1)),
        "reschedule": reschedule_vs_booking(clinic, day + timedelta(days=2)),
    }
    sys.stdout.write("RESULT " + json.dumps(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
