from datetime import date

import pytest
from django.urls import reverse

from billing.models import AuditEvent, EntryKind, LedgerEntry, Patient, StaffTask, TaskStatus
from billing.registry import ConsolePanel, register_console_panel
from tests.billing.factories import LedgerEntryFactory, LocationFactory, PatientFactory, StaffTaskFactory

pytestmark = pytest.mark.django_db


def test_today_shows_open_tasks_by_kind_and_todays_ledger(front_desk_client):
    StaffTaskFactory(kind="general")
    StaffTaskFactory(kind="general")
    StaffTaskFactory(kind="ledger.review", status=TaskStatus.OPEN)
    from billing.clock import practice_today

    LedgerEntryFactory(effective_date=practice_today(), amount_cents=4200)
    page = front_desk_client.get(reverse("console:today")).content.decode()
    assert "General follow-up" in page and "Ledger review" in page
    assert "$42.00" in page


def test_feature_apps_add_panels_through_the_registry(front_desk_client):
    register_console_panel(
        ConsolePanel(
            key="tests.hello",
            title="Hello panel",
            template="console/panels/open_tasks.html",
            context=lambda request: {"rows": [], "total": 0},
        )
    )
    try:
        assert "Hello panel" in front_desk_client.get(reverse("console:today")).content.decode()
    finally:
        from billing import registry

        registry._registry.panels.pop("tests.hello")


class TestSearch:
    def test_finds_by_name_dob_phone_and_email(self, front_desk_client):
        ana = PatientFactory(
            first_name="Ana",
            last_name="Garcia",
            date_of_birth=date(1984, 3, 2),
            phone="+12175550134",
            email="ana@example.com",
        )
        PatientFactory(first_name="Bob", last_name="Stone")
        for q in ["garcia", "ana garcia", "1984-03-02", "03/02/1984", "555-0134", "ana@example.com", "gar 1984-03-02"]:
            page = front_desk_client.get(reverse("console:patient_search"), {"q": q}).content.decode()
            assert "Garcia, Ana" in page, q
            assert "Stone" not in page, q
        assert ana.pk

    def test_no_match_offers_to_create(self, front_desk_client):
        page = front_desk_client.get(reverse("console:patient_search"), {"q": "zzz"}).content.decode()
        assert "No patient matches" in page

    def test_htmx_search_returns_only_the_results(self, front_desk_client):
        PatientFactory(last_name="Garcia")
        response = front_desk_client.get(reverse("console:patient_search"), {"q": "garcia"}, HTTP_HX_REQUEST="true")
        assert "<html" not in response.content.decode() and "Garcia" in response.content.decode()


class TestPatientPage:
    def test_shows_household_ledger_with_running_balance_tasks_and_messages(self, front_desk_client):
        parent = PatientFactory(first_name="Ana", last_name="Garcia")
        PatientFactory(first_name="Leo", last_name="Garcia", household=parent.household)
        LedgerEntryFactory(patient=parent, amount_cents=10000, effective_date=date(2026, 1, 1))
        LedgerEntryFactory(patient=parent, kind=EntryKind.PAYMENT, amount_cents=-2500, effective_date=date(2026, 1, 2))
        StaffTaskFactory(patient=parent, title="Call about statement")
        page = front_desk_client.get(reverse("console:patient_detail", args=[parent.pk])).content.decode()
        assert "Leo Garcia" in page and "guarantor" in page
        assert "$100.00" in page and "−$25.00" in page and "$75.00" in page
        assert "Call about statement" in page

    def test_unknown_patient_is_a_clear_404(self, front_desk_client):
        assert front_desk_client.get(reverse("console:patient_detail", args=[999999])).status_code == 404


class TestPatientForms:
    def test_create_patient(self, front_desk_client):
        location = LocationFactory()
        response = front_desk_client.post(
            reverse("console:patient_create"),
            {
                "first_name": "Mia",
                "last_name": "Okafor",
                "date_of_birth": "1990-07-14",
                "email": "mia@example.com",
                "phone": "217 555 0100",
                "preferred_channel": "email",
                "home_location": location.pk,
            },
        )
        patient = Patient.objects.get(last_name="Okafor")
        assert response.status_code == 302 and response.url == reverse("console:patient_detail", args=[patient.pk])
        assert patient.phone == "+12175550100"

    def test_errors_show_next_to_the_field_keep_input_and_save_nothing(self, front_desk_client):
        response = front_desk_client.post(
            reverse("console:patient_create"),
            {
                "first_name": "Mia",
                "last_name": "Okafor",
                "date_of_birth": "2999-01-01",
                "email": "mia@",
                "phone": "12",
                "preferred_channel": "email",
            },
        )
        page = response.content.decode()
        assert response.status_code == 200
        assert "Date of birth can" in page and "valid email" in page and "valid phone" in page
        assert 'value="Okafor"' in page
        assert not Patient.objects.exists()

    def test_edit_patient(self, front_desk_client):
        patient = PatientFactory(first_name="Mia")
        data = {
            "first_name": "Maya",
            "last_name": patient.last_name,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "email": patient.email,
            "phone": patient.phone,
            "preferred_channel": "email",
            "home_location": patient.home_location_id,
        }
        response = front_desk_client.post(reverse("console:patient_edit", args=[patient.pk]), data)
        assert response.status_code == 302
        patient.refresh_from_db()
        assert patient.first_name == "Maya"
        assert AuditEvent.objects.get(verb="patient.updated").after == {"first_name": "Maya"}


class TestLedgerPages:
    def test_manager_posts_a_payment_typed_in_dollars(self, manager_client):
        patient = PatientFactory()
        owed = LedgerEntryFactory(patient=patient, amount_cents=4550)  # paying more would need confirming
        response = manager_client.post(
            reverse("console:ledger_post", args=[patient.pk]),
            {
                "kind": "payment",
                "amount": "45.50",
                "effective_date": "2026-03-01",
                "memo": "cash",
            },
        )
        assert response.status_code == 302
        entry = LedgerEntry.objects.exclude(pk=owed.pk).get()
        assert entry.amount_cents == -4550 and entry.kind == EntryKind.PAYMENT

    def test_a_fraction_of_a_cent_is_refused(self, manager_client):
        patient = PatientFactory()
        response = manager_client.post(
            reverse("console:ledger_post", args=[patient.pk]),
            {
                "kind": "charge",
                "amount": "10.005",
                "effective_date": "2026-03-01",
            },
        )
        assert "two decimal places" in response.content.decode()
        assert not LedgerEntry.objects.exists()

    def test_manager_reverses_once(self, manager_client):
        entry = LedgerEntryFactory()
        url = reverse("console:ledger_reverse", args=[entry.patient_id, entry.pk])
        assert manager_client.post(url, {"reason": "wrong patient"}).status_code == 302
        again = manager_client.post(url, {"reason": "again"})
        assert "already reversed" in again.content.decode()
        assert LedgerEntry.objects.filter(reverses=entry).count() == 1


class TestTaskQueue:
    def test_filter_by_role_kind_and_location(self, front_desk_client):
        here, there = LocationFactory(), LocationFactory()
        StaffTaskFactory(title="Desk task here", location=here)
        StaffTaskFactory(title="Desk task there", location=there)
        StaffTaskFactory(title="Manager task", role="manager", kind="ledger.review", location=here)
        page = front_desk_client.get(
            reverse("console:tasks"), {"location": here.pk, "role": "front_desk"}
        ).content.decode()
        assert "Desk task here" in page and "Desk task there" not in page and "Manager task" not in page
        page = front_desk_client.get(reverse("console:tasks"), {"kind": "ledger.review"}).content.decode()
        assert "Manager task" in page and "Desk task" not in page

    def test_resolve_with_a_note(self, front_desk_client, front_desk):
        task = StaffTaskFactory()
        response = front_desk_client.post(reverse("console:task_resolve", args=[task.pk]), {"note": "Called back"})
        assert response.status_code == 302
        task.refresh_from_db()
        assert task.status == TaskStatus.RESOLVED and task.resolved_by == front_desk

    def test_resolve_through_htmx_returns_the_updated_row(self, front_desk_client):
        task = StaffTaskFactory()
        response = front_desk_client.post(
            reverse("console:task_resolve", args=[task.pk]), {"note": "done"}, HTTP_HX_REQUEST="true"
        )
        assert f'id="task-{task.pk}"' in response.content.decode() and "resolved" in response.content.decode()

    def test_resolve_without_a_note_is_refused(self, front_desk_client):
        task = StaffTaskFactory()
        response = front_desk_client.post(reverse("console:task_resolve", args=[task.pk]), {"note": ""})
        assert response.status_code == 422
        task.refresh_from_db()
        assert task.status == TaskStatus.OPEN

    def test_staff_add_a_task_from_the_patient_page(self, front_desk_client):
        patient = PatientFactory()
        response = front_desk_client.post(
            reverse("console:task_create", args=[patient.pk]),
            {
                "title": "Send itemised receipt",
                "role": "front_desk",
                "priority": 20,
            },
        )
        assert response.status_code == 302
        assert StaffTask.objects.get().title == "Send itemised receipt"


def test_audit_trail_filters_by_patient_and_verb(manager_client):
    one, two = PatientFactory(), PatientFactory()
    from billing.actors import Actor
    from billing.services.patients import patient_update

    patient_update(patient=one, by=Actor.system_component("tests"), first_name="Uno")
    patient_update(patient=two, by=Actor.system_component("tests"), first_name="Dos")
    page = manager_client.get(reverse("console:audit"), {"patient": one.pk, "verb": "patient."}).content.decode()
    assert "Uno" in page and "Dos" not in page
