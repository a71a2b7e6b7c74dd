import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from billing.models import (
    EntryKind,
    EntrySource,
    Household,
    LedgerEntry,
    Location,
    Patient,
    Role,
    StaffTask,
    TaskPriority,
)
from billing.roles import FRONT_DESK_GROUP, MANAGER_GROUP, ensure_roles
from billing.selectors.practice import practice_get


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        django_get_or_create = ("slug",)

    practice = factory.LazyFunction(practice_get)
    name = factory.Sequence(lambda n: f"Riverside Dental {n}")
    slug = factory.Sequence(lambda n: f"riverside-{n}")
    time_zone = "America/New_York"
    city = "Springfield"
    region = "IL"
    phone = "+12175550100"


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household

    name = factory.Sequence(lambda n: f"Household {n}")


class PatientFactory(factory.django.DjangoModelFactory):
    """A patient in their own household (as its guarantor) unless a household is given."""

    class Meta:
        model = Patient
        skip_postgeneration_save = True

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=1, maximum_age=90)
    email = factory.Sequence(lambda n: f"patient{n}@example.com")
    phone = factory.Sequence(lambda n: f"+1217555{n % 10000:04d}")
    household = factory.SubFactory(
        HouseholdFactory, name=factory.LazyAttribute(lambda h: f"{h.factory_parent.last_name} household")
    )
    home_location = factory.SubFactory(LocationFactory)

    @factory.post_generation
    def guarantor(obj, create, extracted, **kwargs):
        if create and obj.household.guarantor_id is None:
            obj.household.guarantor = obj
            obj.household.save(update_fields=["guarantor"])


class LedgerEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerEntry

    patient = factory.SubFactory(PatientFactory)
    guarantor = factory.LazyAttribute(lambda e: e.patient.household.guarantor or e.patient)
    kind = EntryKind.CHARGE
    amount_cents = 12500
    effective_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=3))
    source = EntrySource.IMPORT
    external_ref = factory.Sequence(lambda n: f"factory-{n}")
    code = "D1110"
    posted_by_system = "tests"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@practice.example")
    password = factory.django.Password("correct horse battery")

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        if not extracted:
            return
        if Group.objects.filter(name__in=[FRONT_DESK_GROUP, MANAGER_GROUP]).count() != 2:
            ensure_roles()
        obj.groups.add(Group.objects.get(name=extracted))
        if extracted == MANAGER_GROUP:
            obj.is_staff = True
            obj.save(update_fields=["is_staff"])


class StaffTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffTask

    kind = "general"
    title = factory.Sequence(lambda n: f"Call back about statement {n}")
    patient = factory.SubFactory(PatientFactory)
    location = factory.LazyAttribute(lambda t: t.patient.home_location if t.patient else None)
    role = Role.FRONT_DESK
    priority = TaskPriority.NORMAL
    created_by = "tests"
