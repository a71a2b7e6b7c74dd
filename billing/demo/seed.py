"""The deterministic demo practice: two locations, ~200 patients in households, ledger history, open
tasks and two logins. Safe to run again: every row is found by a stable key before it is created."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from billing.actors import Actor
from billing.clock import practice_today
from billing.models import ContactChannel, EntryKind, EntrySource, Location, Patient, Role, TaskPriority
from billing.roles import FRONT_DESK_GROUP, MANAGER_GROUP, ensure_roles
from billing.selectors.practice import practice_get
from billing.services.ledger import ledger_post_once
from billing.services.patients import patient_create
from billing.services.staff_tasks import task_open

SEED = 20261125
SEEDER = Actor.system_component("seed_demo")

DEMO_LOGINS = {
    "manager": ("chairside-manager", MANAGER_GROUP),
    "frontdesk": ("chairside-frontdesk", FRONT_DESK_GROUP),
}

FIRST = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Ava",
    "Elijah",
    "Sophia",
    "Mateo",
    "Isabella",
    "Lucas",
    "Mia",
    "Levi",
    "Evelyn",
    "Asher",
    "Harper",
    "James",
    "Luna",
    "Leo",
    "Camila",
    "Grayson",
    "Sofia",
    "Ezra",
    "Scarlett",
    "Luca",
    "Elizabeth",
    "Ethan",
    "Eleanor",
    "Aiden",
    "Emily",
    "Wyatt",
    "Chloe",
    "Sebastian",
    "Mila",
    "Jack",
    "Violet",
    "Hudson",
    "Penelope",
    "Benjamin",
    "Gianna",
    "Theodore",
    "Aria",
    "Michael",
    "Abigail",
    "Daniel",
    "Ella",
    "Jackson",
    "Avery",
    "Henry",
    "Hazel",
    "Samuel",
    "Nora",
    "Jayden",
    "Layla",
    "Owen",
    "Lily",
    "Santiago",
    "Aurora",
    "Alexander",
]
LAST = [
    "Garcia",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Okafor",
    "Kowalski",
    "Haddad",
    "Lindqvist",
    "Tanaka",
]

PROCEDURES = [
    ("D0120", "Periodic oral evaluation", 6500),
    ("D0150", "Comprehensive oral evaluation", 9500),
    ("D0274", "Bitewings, four films", 7500),
    ("D1110", "Prophylaxis, adult", 11000),
    ("D1120", "Prophylaxis, child", 8000),
    ("D1208", "Fluoride varnish", 4000),
    ("D2391", "Resin composite, one surface", 18500),
    ("D2740", "Crown, porcelain/ceramic", 125000),
    ("D4341", "Scaling and root planing, per quadrant", 24000),
    ("D7140", "Extraction, erupted tooth", 21000),
]

LOCATIONS = [
    {
        "slug": "downtown",
        "name": "Riverside Family Dental: Downtown",
        "time_zone": "America/Chicago",
        "address_line1": "120 W Main St",
        "city": "Springfield",
        "region": "IL",
        "postal_code": "62701",
        "phone": "+12175550100",
        "email": "downtown@riverside-dental.example",
        "manager_email": "manager@riverside-dental.example",
    },
    {
        "slug": "northside",
        "name": "Riverside Family Dental: Northside",
        "time_zone": "America/Chicago",
        "address_line1": "4410 N Grand Ave",
        "city": "Springfield",
        "region": "IL",
        "postal_code": "62702",
        "phone": "+12175550177",
        "email": "northside@riverside-dental.example",
        "manager_email": "manager@riverside-dental.example",
    },
]


@dataclass
class SeedResult:
    patients: int
    households: int
    entries: int
    tasks: int


def _practice_and_locations() -> list[Location]:
    practice = practice_get()
    if practice.legal_name == "Your Practice":
        practice.legal_name = "Riverside Family Dental, PLLC"
        practice.display_name = "Riverside Family Dental"
        practice.time_zone = "America/Chicago"
        practice.email = "frontdesk@riverside-dental.example"
        practice.phone = "+12175550100"
        practice.website = "https://riverside-dental.example"
        practice.save()
    locations = []
    for data in LOCATIONS:
        location, _ = Location.objects.get_or_create(slug=data["slug"], defaults={**data, "practice": practice})
        locations.append(location)
    return locations


def _logins() -> None:
    ensure_roles()
    User = get_user_model()
    for username, (password, group) in DEMO_LOGINS.items():
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@riverside-dental.example"}
        )
        if created:
            user.set_password(password)
            user.is_staff = group == MANAGER_GROUP
            user.first_name = username.capitalize()
            user.save()
        user.groups.add(Group.objects.get(name=group))


def _birth_date(rng: random.Random, today: date, lo: int, hi: int) -> date:
    return today - timedelta(days=rng.randint(lo * 365, hi * 365))


def _patients(rng: random.Random, locations: list[Location], today: date) -> tuple[list[Patient], int]:
    patients: list[Patient] = []
    households = 0
    n = 0
    while n < 200:
        households += 1
        last = rng.choice(LAST)
        location = locations[households % len(locations)]
        size = rng.choices([1, 2, 3, 4, 5], weights=[30, 25, 20, 18, 7])[0]
        household = None
        for member in range(size):
            n += 1
            first = rng.choice(FIRST)
            adult = member < (2 if size > 2 else size)
            dob = _birth_date(rng, today, 25, 75) if adult else _birth_date(rng, today, 2, 17)
            external_id = f"DEMO-{n:04d}"
            # Draw every random value before looking for an earlier run's row, so a re-run walks the
            # same sequence and finds the same keys.
            channel = rng.choices([ContactChannel.EMAIL, ContactChannel.SMS, ContactChannel.NONE], weights=[70, 27, 3])[
                0
            ]
            child_email = rng.random() < 0.2
            existing = Patient.objects.filter(external_id=external_id).first()
            if existing is not None:
                patient = existing
            else:
                patient = patient_create(
                    first_name=first,
                    last_name=last,
                    date_of_birth=dob,
                    email=f"{first}.{last}.{n}@example.com".lower() if adult or child_email else "",
                    phone=f"+1217555{1000 + n:04d}",
                    preferred_channel=channel if adult else ContactChannel.SMS,
                    home_location=location,
                    household=household,
                    external_id=external_id,
                    by=SEEDER,
                )
            household = patient.household
            patients.append(patient)
            if n >= 200:
                break
    return patients, households


def _ledger(rng: random.Random, patients: list[Patient], today: date) -> int:
    posted = 0
    for patient in patients:
        visits = rng.randint(0, 4)
        for v in range(visits):
            day = today - timedelta(days=rng.randint(1, 180))
            for code, label, fee in rng.sample(PROCEDURES[:6], k=rng.randint(1, 3)) + (
                [rng.choice(PROCEDURES[6:])] if rng.random() < 0.25 else []
            ):
                ref = f"demo-{patient.external_id}-{v}-{code}"
                _, created = ledger_post_once(
                    patient=patient,
                    kind=EntryKind.CHARGE,
                    amount_cents=fee,
                    effective_date=day,
                    code=code,
                    memo=label,
                    source=EntrySource.IMPORT,
                    external_ref=ref,
                    by=SEEDER,
                )
                posted += created
                if rng.random() < 0.7:
                    paid = fee if rng.random() < 0.8 else fee // 2
                    _, created = ledger_post_once(
                        patient=patient,
                        kind=EntryKind.PAYMENT,
                        amount_cents=-paid,
                        # Paid up to 20 days after the visit, but never after today (a visit yesterday was
                        # paid yesterday or today): the ledger refuses future-dated entries.
                        effective_date=min(day + timedelta(days=rng.randint(0, 20)), today),
                        memo="Payment at the desk",
                        source=EntrySource.IMPORT,
                        external_ref=f"{ref}-pay",
                        by=SEEDER,
                    )
                    posted += created
    # A little activity dated today, so the Today page has something to show.
    for i, patient in enumerate(patients[:6]):
        code, label, fee = PROCEDURES[i % len(PROCEDURES)]
        _, created = ledger_post_once(
            patient=patient,
            kind=EntryKind.CHARGE,
            amount_cents=fee,
            effective_date=today,
            code=code,
            memo=label,
            source=EntrySource.IMPORT,
            external_ref=f"demo-today-{today.isoformat()}-{i}",
            by=SEEDER,
        )
        posted += created
    return posted


def _tasks(rng: random.Random, patients: list[Patient]) -> int:
    samples = [
        ("general", "Call back about last statement", Role.FRONT_DESK, TaskPriority.NORMAL),
        ("general", "Update insurance card on file", Role.FRONT_DESK, TaskPriority.LOW),
        ("patient.contact", "Email bounced: confirm address", Role.FRONT_DESK, TaskPriority.NORMAL),
        ("ledger.review", "Duplicate charge suspected", Role.MANAGER, TaskPriority.HIGH),
        ("general", "Patient asked for an itemised receipt", Role.FRONT_DESK, TaskPriority.NORMAL),
        ("ledger.review", "Balance over 90 days: decide on follow-up", Role.MANAGER, TaskPriority.NORMAL),
    ]
    opened = 0
    for i in range(14):
        kind, title, role, priority = samples[i % len(samples)]
        patient = patients[rng.randrange(len(patients))]
        _, created = task_open(
            kind=kind,
            title=title,
            patient=patient,
            role=role,
            priority=priority,
            by=SEEDER,
            detail="Opened by the demo data.",
            dedupe_key=f"demo-task-{i}",
        )
        opened += created
    return opened


def seed_demo(stdout=None) -> SeedResult:
    from billing.registry import demo_seeders

    rng = random.Random(SEED)
    with transaction.atomic():
        locations = _practice_and_locations()
        today = practice_today()
        _logins()
        patients, households = _patients(rng, locations, today)
        entries = _ledger(rng, patients, today)
        tasks = _tasks(rng, patients)
    for _key, seed in demo_seeders():
        with transaction.atomic():
            seed(rng=random.Random(SEED), stdout=stdout)
    return SeedResult(patients=len(patients), households=households, entries=entries, tasks=tasks)
