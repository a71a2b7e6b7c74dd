"""Demo calendar for `make demo`: providers, rooms, hours, appointment types and a lived-in fortnight at the
two demo locations (downtown, northside), plus a few online holds for the front desk to confirm.

Runs after the core's seed (registered in scheduling/registrations.py). Safe to run again: rows are
found by name or idempotency key first, and a time that is already taken is simply skipped."""

from __future__ import annotations

import random
from datetime import date, time, timedelta

from django.utils import timezone

from billing.actors import Actor
from billing.models import Location, Patient
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Block,
    BookingRequest,
    Operatory,
    Provider,
    WorkingHours,
)
from scheduling.selectors.availability import local_to_utc, online_slots
from scheduling.services.booking import PatientOverlap, SlotTaken, appointment_book
from scheduling.services.online import Requester, hold_place
from scheduling.services.transitions import appointment_complete, appointment_no_show

SEEDER = Actor.system_component("seed_demo")

PROVIDERS = [
    ("Dr. Maya Lee", Provider.Kind.DENTIST, "#2d6fb0", 10),
    ("Dr. Sam Ortiz", Provider.Kind.DENTIST, "#8a4fbf", 20),
    ("Jordan Park, RDH", Provider.Kind.HYGIENIST, "#0f6e6e", 30),
    ("Riley Chen, RDH", Provider.Kind.HYGIENIST, "#b86e00", 40),
]
# provider -> location -> weekdays; every day split 8-12 / 13-17 (lunch free)
ROTA = {
    "Dr. Maya Lee": {"downtown": [0, 1, 2, 3], "northside": [4]},
    "Dr. Sam Ortiz": {"northside": [0, 1, 2, 3], "downtown": [4]},
    "Jordan Park, RDH": {"downtown": [0, 1, 2, 3, 4]},
    "Riley Chen, RDH": {"northside": [0, 1, 2, 3, 4]},
}
TYPES = [
    # name, minutes, buffer after, online, new patients, recall months, providers (kind), description
    ("New patient exam & cleaning", 90, 10, True, True, 6, None, "Exam, X-rays and a cleaning for new patients."),
    ("Cleaning & checkup", 60, 10, True, False, 6, Provider.Kind.HYGIENIST, "Your regular visit."),
    ("Emergency visit", 30, 5, True, True, None, Provider.Kind.DENTIST, "Pain, swelling or a broken tooth."),
    ("Consultation", 30, 0, True, True, None, Provider.Kind.DENTIST, "Talk through a treatment plan."),
    ("Crown preparation", 90, 15, False, False, None, Provider.Kind.DENTIST, ""),
]


def seed_scheduling(*, rng: random.Random, stdout=None) -> None:
    locations = {loc.slug: loc for loc in Location.objects.filter(slug__in=["downtown", "northside"])}
    if len(locations) < 2:
        return
    providers = _providers(locations)
    ops = _operatories(locations)
    types = _types(providers)
    _blocks(locations)
    made = _appointments(rng, locations, providers, types)
    made += _recall_history(rng, locations, providers, types)
    holds = _holds(rng, locations, types)
    if stdout is not None:
        stdout.write(
            f"Scheduling: {len(providers)} providers, {sum(len(v) for v in ops.values())} operatories, "
            f"{len(types)} appointment types; {made} new appointments, {holds} new online holds."
        )


def _providers(locations: dict[str, Location]) -> dict[str, Provider]:
    out = {}
    for name, kind, color, order in PROVIDERS:
        provider, _ = Provider.objects.get_or_create(
            name=name, defaults={"kind": kind, "color": color, "sort_order": order}
        )
        out[name] = provider
        for slug, days in ROTA[name].items():
            for day in days:
                for start, end in ((time(8), time(12)), (time(13), time(17))):
                    WorkingHours.objects.get_or_create(
                        provider=provider, location=locations[slug], weekday=day, start_time=start, end_time=end
                    )
    return out


def _operatories(locations: dict[str, Location]) -> dict[str, list[Operatory]]:
    out = {}
    for slug, count in (("downtown", 3), ("northside", 2)):
        out[slug] = [
            Operatory.objects.get_or_create(location=locations[slug], name=f"Op {n}", defaults={"sort_order": n})[0]
            for n in range(1, count + 1)
        ]
    return out


def _types(providers: dict[str, Provider]) -> dict[str, AppointmentType]:
    out = {}
    for order, (name, minutes, after, online, new_ok, recall, kind, description) in enumerate(TYPES):
        t, created = AppointmentType.objects.get_or_create(
            name=name,
            defaults={
                "duration_minutes": minutes,
                "buffer_after_minutes": after,
                "online_bookable": online,
                "new_patients_allowed": new_ok,
                "recall_interval_months": recall,
                "public_description": description,
                "min_notice_minutes": 60 if name == "Emergency visit" else 120,
                "sort_order": order * 10,
            },
        )
        if created and kind:
            t.allowed_providers.set([p for p in providers.values() if p.kind == kind])
        out[name] = t
    return out


def _blocks(locations: dict[str, Location]) -> None:
    downtown = locations["downtown"]
    zone = downtown.zone
    today = timezone.now().astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    Block.objects.get_or_create(
        location=downtown,
        kind=Block.Kind.MEETING,
        title="Team huddle",
        defaults={
            "start": local_to_utc(monday, time(8), zone),
            "end": local_to_utc(monday, time(8, 30), zone),
            "repeat": Block.Repeat.WEEKLY,
        },
    )


def _appointments(rng, locations, providers, types) -> int:
    """Fill each provider's days: fuller this week than later, completed in the past (recall types then set
    the next recall), the odd no-show. A patient is never booked twice at once: the booking service refuses
    (PatientOverlap) and the seed tries someone else."""
    patients = list(Patient.objects.filter(external_id__startswith="DEMO-").order_by("id"))
    if not patients:
        return 0
    made = 0
    dentist_work = [types["Crown preparation"], types["Consultation"], types["Emergency visit"]]
    for slug, location in locations.items():
        zone = location.zone
        today = timezone.now().astimezone(zone).date()
        here = [p for p in patients if p.home_location_id == location.pk] or patients
        for offset in range(-10, 15):
            day = today + timedelta(days=offset)
            fill = 0.6 if offset < 7 else 0.35
            for provider in providers.values():
                if day.weekday() not in ROTA[provider.name].get(slug, []):
                    continue
                prefix = f"demo-{slug}-{day.isoformat()}-{provider.pk}-"
                if Appointment.objects.filter(idempotency_key__startswith=prefix).exists():
                    continue  # seeded by an earlier run: leave that day as it is (safe to run again)
                for opens, closes in ((8 * 60, 12 * 60), (13 * 60, 17 * 60)):
                    minute = opens
                    while minute < closes:
                        t = (
                            types["Cleaning & checkup"]
                            if provider.kind == Provider.Kind.HYGIENIST
                            else rng.choice(dentist_work)
                        )
                        if minute + t.duration_minutes > closes:
                            break
                        if rng.random() > fill:
                            minute += 30
                            continue
                        start = local_to_utc(day, time(minute // 60, minute % 60), zone)
                        key = f"{prefix}{minute}"
                        appt = _book_someone(
                            rng,
                            here,
                            location=location,
                            appointment_type=t,
                            provider=provider,
                            start=start,
                            idempotency_key=key,
                        )
                        if appt is None:
                            minute += 15
                            continue
                        made += 1
                        busy = t.duration_minutes + t.buffer_after_minutes
                        minute += -(-busy // 15) * 15
                        if offset < 0 and appt.status == AppointmentStatus.CONFIRMED:
                            if rng.random() < 0.05:
                                appointment_no_show(appointment=appt, by=SEEDER)
                            else:
                                appointment_complete(appointment=appt, by=SEEDER)
    return made


def _book_someone(rng, patients, **booking) -> Appointment | None:
    """Book one of ``patients`` (a few tries for someone free then); None if the time is taken."""
    for _try in range(5):
        try:
            return appointment_book(
                patient=rng.choice(patients), by=SEEDER, notify_patient=False, allow_past=True, **booking
            )
        except PatientOverlap:
            continue
        except SlotTaken:
            return None
    return None


def _recall_history(rng, locations, providers, types) -> int:
    """Cleanings about six months ago, completed: their recalls fall due in the coming weeks, so the recall
    page and the recall reminders have something to do."""
    patients = list(Patient.objects.filter(external_id__startswith="DEMO-").order_by("id"))[::9][:16]
    hygienist = {"downtown": providers["Jordan Park, RDH"], "northside": providers["Riley Chen, RDH"]}
    made = 0
    for i, patient in enumerate(patients):
        key = f"demo-recall-{i}"
        if Appointment.objects.filter(idempotency_key=key).exists():
            continue
        slug = "downtown" if i % 2 == 0 else "northside"
        location = locations[slug]
        day = timezone.now().astimezone(location.zone).date() - timedelta(days=150 + 3 * i)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        try:
            appt = appointment_book(
                location=location,
                appointment_type=types["Cleaning & checkup"],
                provider=hygienist[slug],
                start=local_to_utc(day, time(16), location.zone),
                patient=patient,
                by=SEEDER,
                idempotency_key=key,
                notify_patient=False,
                override_hours=True,
                allow_past=True,
            )
        except (SlotTaken, PatientOverlap):
            continue
        appointment_complete(appointment=appt, by=SEEDER)
        made += 1
    return made


def _holds(rng, locations, types) -> int:
    """A few online requests, as patients would make them: one for a known patient, one new, one that looks
    like two charts (so the identity task shows)."""
    made = 0
    location = locations["downtown"]
    t = types["New patient exam & cleaning"]
    today = timezone.now().astimezone(location.zone).date()
    known = Patient.objects.filter(external_id="DEMO-0001").first()
    people = [
        Requester(
            "Avery",
            "Quinn",
            date(1991, 5, 14),
            "avery.quinn@example.com",
            "+12175559001",
            note="I'm nervous at the dentist; please go gently.",
        ),
        Requester("Morgan", "Reyes", date(1984, 11, 2), "m.reyes@example.com", "+12175559002"),
    ]
    if known is not None:
        # Same name and birth date as a chart, different contact details: staff must decide.
        people.append(
            Requester(known.first_name, known.last_name, known.date_of_birth, "new.address@example.com", "+12175559003")
        )
    for i, person in enumerate(people):
        key = f"demo-hold-{i}"
        if BookingRequest.objects.filter(idempotency_key=key).exists():
            continue
        first = today + timedelta(days=2 + 2 * i)
        found = online_slots(location=location, appointment_type=t, first_day=first, last_day=first + timedelta(days=7))
        if not found:
            continue
        day_slots = found[min(found)]
        slot = day_slots[len(day_slots) // 2]
        result = hold_place(
            location=location,
            appointment_type=t,
            provider=Provider.objects.get(pk=slot.provider_id),
            start=slot.start,
            requester=person,
            idempotency_key=key,
        )
        made += result.held
    return made
