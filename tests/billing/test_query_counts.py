"""List pages and the ledger API cost the same number of queries for 5 rows and for 500."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.clock import practice_today
from billing.models import EntryKind, LedgerEntry
from tests.billing.factories import LedgerEntryFactory, PatientFactory, StaffTaskFactory

pytestmark = pytest.mark.django_db


def queries_for(client, url) -> int:
    client.get(url)  # warm per-process caches (content types, templates) before counting
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def entries(patient, n, start=0):
    rows = [
        LedgerEntry(
            patient=patient,
            guarantor=patient,
            kind=EntryKind.CHARGE,
            amount_cents=100 + i,
            effective_date=practice_today(),
            source="import",
            external_ref=f"q-{patient.pk}-{start + i}",
            posted_by_system="tests",
        )
        for i in range(n)
    ]
    LedgerEntry.objects.bulk_create(rows)


def test_patient_search(front_desk_client, django_assert_num_queries):
    PatientFactory.create_batch(5, last_name="Garcia")
    url = reverse("console:patient_search") + "?q=garcia"
    small = queries_for(front_desk_client, url)
    PatientFactory.create_batch(495, last_name="Garcia")
    with django_assert_num_queries(small):
        front_desk_client.get(url)


def test_patient_page(front_desk_client, django_assert_num_queries):
    patient = PatientFactory()
    PatientFactory.create_batch(4, household=patient.household)
    entries(patient, 5)
    StaffTaskFactory.create_batch(5, patient=patient)
    url = reverse("console:patient_detail", args=[patient.pk])
    small = queries_for(front_desk_client, url)
    PatientFactory.create_batch(20, household=patient.household)
    entries(patient, 495, start=5)
    StaffTaskFactory.create_batch(45, patient=patient)
    with django_assert_num_queries(small):
        front_desk_client.get(url)


def test_patient_page_for_a_manager_with_audit_trail(manager_client, django_assert_num_queries):
    patient = PatientFactory()
    entries(patient, 5)
    url = reverse("console:patient_detail", args=[patient.pk])
    small = queries_for(manager_client, url)
    entries(patient, 495, start=5)
    from billing.actors import Actor
    from billing.services.patients import patient_update

    for i in range(30):
        patient_update(patient=patient, by=Actor.system_component("tests"), preferred_name=f"n{i}")
    with django_assert_num_queries(small):
        manager_client.get(url)


def test_task_queue(front_desk_client, django_assert_num_queries):
    StaffTaskFactory.create_batch(5)
    url = reverse("console:tasks")
    small = queries_for(front_desk_client, url)
    patient = PatientFactory()
    StaffTaskFactory.create_batch(495, patient=patient)
    with django_assert_num_queries(small):
        front_desk_client.get(url)


def test_today_page(front_desk_client, django_assert_num_queries):
    LedgerEntryFactory.create_batch(5, effective_date=practice_today())
    StaffTaskFactory.create_batch(5)
    url = reverse("console:today")
    small = queries_for(front_desk_client, url)
    patient = PatientFactory()
    entries(patient, 495)
    StaffTaskFactory.create_batch(100, patient=patient, kind="ledger.review")
    with django_assert_num_queries(small):
        front_desk_client.get(url)


def test_audit_trail(manager_client, django_assert_num_queries):
    patient = PatientFactory()
    entries(patient, 5)
    from billing.actors import Actor
    from billing.services.patients import patient_update

    for i in range(5):
        patient_update(patient=patient, by=Actor.system_component("tests"), preferred_name=f"a{i}")
    url = reverse("console:audit")
    small = queries_for(manager_client, url)
    for i in range(150):
        patient_update(patient=patient, by=Actor.system_component("tests"), preferred_name=f"b{i}")
    with django_assert_num_queries(small):
        manager_client.get(url)


def test_ledger_api(api_client, front_desk, django_assert_num_queries):
    api_client.force_authenticate(front_desk)
    patient = PatientFactory()
    entries(patient, 5)
    url = f"/api/v1/patients/{patient.pk}/ledger/"
    small = queries_for(api_client, url)
    entries(patient, 495, start=5)
    with django_assert_num_queries(small):
        response = api_client.get(url)
    assert response.data["count"] == 500 and len(response.data["results"]) == 50


def test_patient_api_list(api_client, front_desk, django_assert_num_queries):
    api_client.force_authenticate(front_desk)
    PatientFactory.create_batch(5)
    small = queries_for(api_client, "/api/v1/patients/")
    PatientFactory.create_batch(120)
    with django_assert_num_queries(small):
        api_client.get("/api/v1/patients/")


def test_household_api_list(api_client, front_desk, django_assert_num_queries):
    api_client.force_authenticate(front_desk)
    for _ in range(5):
        PatientFactory.create_batch(2, household=PatientFactory().household)
    small = queries_for(api_client, "/api/v1/households/")
    for _ in range(60):
        PatientFactory.create_batch(2, household=PatientFactory().household)
    with django_assert_num_queries(small):
        api_client.get("/api/v1/households/")
