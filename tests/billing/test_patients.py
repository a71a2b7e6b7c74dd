from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from billing.actors import Actor
from billing.models import AuditEvent, ContactChannel, Household, Patient
from billing.services.patients import household_set_guarantor, patient_create, patient_update
from tests.billing.factories import HouseholdFactory, LocationFactory, PatientFactory

pytestmark = pytest.mark.django_db
STAFF = Actor.system_component("tests")


def create(**overrides):
    data = {
        "first_name": "Ana",
        "last_name": "Garcia",
        "date_of_birth": date(1984, 3, 2),
        "email": "Ana.Garcia@Example.COM",
        "phone": "(217) 555-0134",
        "by": STAFF,
    }
    data.update(overrides)
    return patient_create(**data)


class TestCreate:
    def test_new_patient_gets_own_household_as_guarantor_with_normalised_contacts(self):
        patient = create()
        assert patient.household.guarantor == patient
        assert patient.phone == "+12175550134"
        assert patient.email == "Ana.Garcia@example.com"
        assert AuditEvent.objects.filter(verb="patient.created", patient=patient).count() == 1

    def test_joining_a_household_keeps_its_guarantor(self):
        parent = create()
        child = create(
            first_name="Leo",
            date_of_birth=date(2016, 5, 1),
            email="",
            phone="",
            household=parent.household,
            preferred_channel=ContactChannel.NONE,
        )
        assert child.household == parent.household
        assert child.household.guarantor == parent

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"email": "ana@@example"}, "email"),
            ({"email": "not-an-email"}, "email"),
            ({"phone": "12"}, "phone"),
            ({"phone": "call me maybe"}, "phone"),
            ({"date_of_birth": timezone.localdate() + timedelta(days=1)}, "date_of_birth"),
            ({"date_of_birth": date(1850, 1, 1)}, "date_of_birth"),
            ({"first_name": "   "}, "first_name"),
            ({"preferred_channel": "pigeon"}, "preferred_channel"),
            ({"preferred_channel": ContactChannel.SMS, "phone": ""}, "preferred_channel"),
            ({"preferred_channel": ContactChannel.EMAIL, "email": ""}, "preferred_channel"),
        ],
    )
    def test_bad_input_names_the_field_and_writes_nothing(self, overrides, field):
        with pytest.raises(ValidationError) as exc:
            create(**overrides)
        assert field in exc.value.message_dict
        assert not Patient.objects.exists()
        assert not Household.objects.exists()
        assert not AuditEvent.objects.exists()

    def test_every_bad_field_is_reported_at_once(self):
        with pytest.raises(ValidationError) as exc:
            create(email="nope", phone="12", first_name="")
        assert {"email", "phone", "first_name"} <= set(exc.value.message_dict)

    def test_practice_system_id_is_unique(self):
        create(external_id="PMS-1")
        with pytest.raises(ValidationError) as exc:
            create(first_name="Other", external_id="PMS-1")
        assert "external_id" in exc.value.message_dict
        assert Patient.objects.count() == 1


class TestUpdate:
    def test_update_records_only_what_changed(self):
        patient = create()
        patient_update(patient=patient, by=STAFF, phone="217-555-0199", last_name="Garcia")
        event = AuditEvent.objects.get(verb="patient.updated")
        assert event.before == {"phone": "+12175550134"}
        assert event.after == {"phone": "+12175550199"}

    def test_bad_update_changes_nothing(self):
        patient = create()
        with pytest.raises(ValidationError):
            patient_update(patient=patient, by=STAFF, email="broken@", first_name="Changed")
        patient.refresh_from_db()
        assert patient.first_name == "Ana"

    def test_fields_outside_the_editable_set_are_refused(self):
        patient = create()
        with pytest.raises(ValidationError) as exc:
            patient_update(patient=patient, by=STAFF, created_at=timezone.now())
        assert "created_at" in exc.value.message_dict

    def test_guarantor_cannot_leave_a_household_that_still_has_members(self):
        parent = PatientFactory()
        PatientFactory(household=parent.household)
        with pytest.raises(ValidationError) as exc:
            patient_update(patient=parent, by=STAFF, household=HouseholdFactory())
        assert "household" in exc.value.message_dict
        parent.refresh_from_db()
        assert parent.household.guarantor == parent

    def test_moving_into_an_empty_household_makes_the_patient_its_guarantor(self):
        parent = PatientFactory()
        child = PatientFactory(household=parent.household)
        new_home = HouseholdFactory()
        patient_update(patient=child, by=STAFF, household=new_home)
        new_home.refresh_from_db()
        assert new_home.guarantor == child


class TestGuarantor:
    def test_guarantor_must_belong_to_the_household(self):
        household = PatientFactory().household
        outsider = PatientFactory()
        with pytest.raises(ValidationError) as exc:
            household_set_guarantor(household=household, guarantor=outsider, by=STAFF)
        assert "guarantor" in exc.value.message_dict

    def test_changing_guarantor_is_audited(self):
        parent = PatientFactory()
        other = PatientFactory(household=parent.household)
        household_set_guarantor(household=parent.household, guarantor=other, by=STAFF, reason="divorce decree")
        event = AuditEvent.objects.get(verb="household.guarantor_changed")
        assert event.before["guarantor"] == parent.pk and event.after["guarantor"] == other.pk


def test_patient_location_defaults_in_factory_are_real_rows():
    location = LocationFactory(slug="downtown")
    assert PatientFactory(home_location=location).home_location.slug == "downtown"
