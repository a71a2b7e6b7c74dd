from datetime import time, timedelta

import factory

from scheduling.models import (
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    AppointmentType,
    Block,
    Operatory,
    Provider,
    TimeOff,
    WorkingHours,
)
from tests.billing.factories import LocationFactory, PatientFactory


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    name = factory.Sequence(lambda n: f"Dr. Provider {n}")
    kind = Provider.Kind.DENTIST


class OperatoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operatory

    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"Room {n}")


class AppointmentTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AppointmentType

    name = factory.Sequence(lambda n: f"Cleaning {n}")
    duration_minutes = 60
    buffer_before_minutes = 0
    buffer_after_minutes = 0
    online_bookable = True
    new_patients_allowed = True
    min_notice_minutes = 120
    max_days_ahead = 60


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingHours

    provider = factory.SubFactory(ProviderFactory)
    location = factory.SubFactory(LocationFactory)
    weekday = 0
    start_time = time(8)
    end_time = time(17)


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOff

    provider = factory.SubFactory(ProviderFactory)
    reason = "Course"


class BlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Block

    location = factory.SubFactory(LocationFactory)
    kind = Block.Kind.MEETING
    title = "Team meeting"


class AppointmentFactory(factory.django.DjangoModelFactory):
    """An appointment row written directly (fast set-up for reads). Tests of the write path use the
    services, which are the only code that books in production."""

    class Meta:
        model = Appointment

    location = factory.SubFactory(LocationFactory)
    provider = factory.SubFactory(ProviderFactory)
    operatory = factory.SubFactory(OperatoryFactory, location=factory.SelfAttribute("..location"))
    appointment_type = factory.SubFactory(AppointmentTypeFactory)
    patient = factory.SubFactory(PatientFactory, home_location=factory.SelfAttribute("..location"))
    status = AppointmentStatus.CONFIRMED
    source = AppointmentSource.STAFF
    end = factory.LazyAttribute(lambda a: a.start + timedelta(minutes=a.appointment_type.duration_minutes))
    occupied_start = factory.LazyAttribute(
        lambda a: a.start - timedelta(minutes=a.appointment_type.buffer_before_minutes)
    )
    occupied_end = factory.LazyAttribute(lambda a: a.end + timedelta(minutes=a.appointment_type.buffer_after_minutes))
    confirmed_at = factory.LazyAttribute(lambda a: a.start - timedelta(days=30))
    held_at = None
