"""Scheduling fixtures: a small clinic in America/Chicago, a frozen clock, handy clients."""

from datetime import UTC, date, datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine

from scheduling.selectors.availability import local_to_utc
from scheduling.selectors.settings import scheduling_settings
from scheduling.services.online import Requester
from tests.billing.factories import LocationFactory
from tests.scheduling.factories import AppointmentTypeFactory, OperatoryFactory, ProviderFactory, WorkingHoursFactory

CHICAGO = ZoneInfo("America/Chicago")
# Monday 1 June 2026, 07:00 in Chicago (CDT, UTC-5): far from either DST change.
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TUESDAY = date(2026, 6, 2)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    """A Chicago wall-clock time as an aware UTC datetime."""
    return local_to_utc(day, time(hh, mm), CHICAGO)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def clinic(db):
    """Two providers working 8:00-17:00 every day at one Chicago location with two operatories, and a
    60-minute online type with a 10-minute clean-up buffer."""
    location = LocationFactory(
        slug="lakeview", name="Lakeview Dental", time_zone="America/Chicago", manager_email="manager@lakeview.example"
    )
    providers = [ProviderFactory(name="Dr. Ada Lee", sort_order=1), ProviderFactory(name="Dr. Ben Ortiz", sort_order=2)]
    for provider in providers:
        for weekday in range(7):
            WorkingHoursFactory(provider=provider, location=location, weekday=weekday)
    operatories = [
        OperatoryFactory(location=location, name="Op 1", sort_order=1),
        OperatoryFactory(location=location, name="Op 2", sort_order=2),
    ]
    cleaning = AppointmentTypeFactory(name="Cleaning", duration_minutes=60, buffer_after_minutes=10)
    scheduling_settings()  # the row a migration creates (a transactional test's flush removes it)
    return SimpleNamespace(location=location, providers=providers, operatories=operatories, type=cleaning)


def requester(**overrides) -> Requester:
    data = {
        "first_name": "Rosa",
        "last_name": "Parks",
        "date_of_birth": date(1985, 2, 4),
        "email": "rosa@example.com",
        "phone": "(217) 555-0199",
    }
    data.update(overrides)
    return Requester(**data)
