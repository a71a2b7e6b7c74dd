from datetime import date

import pytest

from billing.models import AuditEvent, EntryKind, Household, LedgerEntry, Patient
from tests.billing.factories import HouseholdFactory, LedgerEntryFactory, LocationFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk_api(api_client, front_desk):
    api_client.force_authenticate(front_desk)
    return api_client


@pytest.fixture
def manager_api(api_client, manager):
    api_client.force_authenticate(manager)
    return api_client


PATIENT = {
    "first_name": "Ana",
    "last_name": "Garcia",
    "date_of_birth": "1984-03-02",
    "email": "ana@example.com",
    "phone": "217-555-0134",
}


class TestPatients:
    def test_create_read_update(self, desk_api):
        location = LocationFactory(slug="downtown")
        created = desk_api.post("/api/v1/patients/", {**PATIENT, "home_location": "downtown"}, format="json")
        assert created.status_code == 201, created.data
        pk = created.data["id"]
        assert created.data["phone"] == "+12175550134" and created.data["is_guarantor"] is True
        assert desk_api.get(f"/api/v1/patients/{pk}/").data["home_location"] == location.slug
        updated = desk_api.patch(f"/api/v1/patients/{pk}/", {"preferred_name": "Annie"}, format="json")
        assert updated.status_code == 200 and updated.data["preferred_name"] == "Annie"
        assert AuditEvent.objects.filter(verb="patient.updated").count() == 1

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"email": "ana@@x"}, "email"),
            ({"phone": "12"}, "phone"),
            ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
            ({"date_of_birth": "not a date"}, "date_of_birth"),
            ({"household": 999999}, "household"),
            ({"preferred_channel": "fax"}, "preferred_channel"),
            ({"first_name": ""}, "first_name"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(self, desk_api, change, field):
        response = desk_api.post("/api/v1/patients/", {**PATIENT, **change}, format="json")
        assert response.status_code == 400
        assert field in response.data
        assert not Patient.objects.exists() and not Household.objects.exists()

    def test_search_and_pagination(self, desk_api):
        for i in range(3):
            PatientFactory(last_name="Garcia", first_name=f"Kid{i}")
        PatientFactory(last_name="Stone")
        response = desk_api.get("/api/v1/patients/", {"q": "garcia", "page_size": 2})
        assert response.data["count"] == 3 and len(response.data["results"]) == 2 and response.data["next"]
        assert {"balance_cents", "household"} <= set(response.data["results"][0])

    def test_join_a_household(self, desk_api):
        household = PatientFactory().household
        response = desk_api.post("/api/v1/patients/", {**PATIENT, "household": household.pk}, format="json")
        assert response.status_code == 201 and response.data["is_guarantor"] is False


class TestHouseholds:
    def test_create_list_and_change_guarantor(self, desk_api):
        created = desk_api.post("/api/v1/households/", {"name": "Okafor household"}, format="json")
        assert created.status_code == 201 and created.data["guarantor"] is None
        hid = created.data["id"]
        first = desk_api.post("/api/v1/patients/", {**PATIENT, "household": hid}, format="json").data
        second = desk_api.post(
            "/api/v1/patients/", {**PATIENT, "first_name": "Obi", "household": hid}, format="json"
        ).data
        assert desk_api.get(f"/api/v1/households/{hid}/").data["guarantor"] == first["id"]
        changed = desk_api.patch(f"/api/v1/households/{hid}/", {"guarantor": second["id"]}, format="json")
        assert changed.status_code == 200 and changed.data["guarantor"] == second["id"]
        assert sorted(desk_api.get(f"/api/v1/households/{hid}/").data["members"]) == sorted([first["id"], second["id"]])

    def test_guarantor_from_another_household_is_refused(self, desk_api):
        household = HouseholdFactory()
        outsider = PatientFactory()
        response = desk_api.patch(f"/api/v1/households/{household.pk}/", {"guarantor": outsider.pk}, format="json")
        assert response.status_code == 400 and "guarantor" in response.data


class TestLedger:
    def test_list_with_balance_and_running_balance(self, desk_api):
        patient = PatientFactory()
        LedgerEntryFactory(patient=patient, amount_cents=10000, effective_date=date(2026, 1, 1))
        LedgerEntryFactory(patient=patient, kind=EntryKind.PAYMENT, amount_cents=-4000, effective_date=date(2026, 1, 5))
        response = desk_api.get(f"/api/v1/patients/{patient.pk}/ledger/")
        assert response.status_code == 200
        assert response.data["balance_cents"] == 6000
        assert [r["running_balance_cents"] for r in response.data["results"]] == [6000, 10000]

    def test_manager_posts_a_manual_entry(self, manager_api):
        patient = PatientFactory()
        response = manager_api.post(
            f"/api/v1/patients/{patient.pk}/ledger/",
            {"kind": "credit", "amount_cents": -1500, "memo": "courtesy", "effective_date": "2026-02-01"},
            format="json",
        )
        assert response.status_code == 201, response.data
        assert response.data["amount_cents"] == -1500 and response.data["posted_by"] == "manager"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"kind": "charge", "amount_cents": 12.5}, "amount_cents"),
            ({"kind": "charge", "amount_cents": "12.50"}, "amount_cents"),
            ({"kind": "charge", "amount_cents": 0}, "amount_cents"),
            ({"kind": "payment", "amount_cents": 500}, "amount_cents"),
            ({"kind": "reversal", "amount_cents": -5}, "kind"),
            ({"kind": "charge"}, "amount_cents"),
            ({"kind": "charge", "amount_cents": 100, "effective_date": "yesterday"}, "effective_date"),
        ],
    )
    def test_bad_entries_are_400_naming_the_field(self, manager_api, body, field):
        patient = PatientFactory()
        response = manager_api.post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json")
        assert response.status_code == 400 and field in response.data, response.data
        assert not LedgerEntry.objects.exists()

    def test_a_repeated_external_reference_is_refused(self, manager_api):
        patient = PatientFactory()
        body = {"kind": "charge", "amount_cents": 100, "external_ref": "pms-77"}
        assert manager_api.post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json").status_code == 201
        again = manager_api.post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json")
        assert again.status_code == 400 and "external_ref" in again.data
        assert LedgerEntry.objects.count() == 1

    def test_reverse_once_and_never_a_reversal(self, manager_api):
        entry = LedgerEntryFactory()
        first = manager_api.post(f"/api/v1/ledger/{entry.pk}/reverse/", {"reason": "duplicate"}, format="json")
        assert first.status_code == 201 and first.data["reverses"] == entry.pk
        second = manager_api.post(f"/api/v1/ledger/{entry.pk}/reverse/", {"reason": "again"}, format="json")
        assert second.status_code == 400 and "entry" in second.data
        of_reversal = manager_api.post(f"/api/v1/ledger/{first.data['id']}/reverse/", {"reason": "x"}, format="json")
        assert of_reversal.status_code == 400
        missing_reason = manager_api.post(f"/api/v1/ledger/{LedgerEntryFactory().pk}/reverse/", {}, format="json")
        assert missing_reason.status_code == 400 and "reason" in missing_reason.data

    def test_the_api_has_no_way_to_edit_or_delete_an_entry(self, manager_api):
        entry = LedgerEntryFactory()
        assert manager_api.put(f"/api/v1/ledger/{entry.pk}/", {"amount_cents": 1}, format="json").status_code == 405
        assert manager_api.patch(f"/api/v1/ledger/{entry.pk}/", {"amount_cents": 1}, format="json").status_code == 405
        assert manager_api.delete(f"/api/v1/ledger/{entry.pk}/").status_code == 405
        entry.refresh_from_db()
        assert entry.amount_cents == 12500


def test_token_authentication(api_client, front_desk):
    token = api_client.post("/api/v1/auth/token/", {"username": "frontdesk", "password": "correct horse battery"}).data[
        "token"
    ]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/patients/").status_code == 200


def test_schema_and_docs_are_served(desk_api):
    schema = desk_api.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/patients/{id}/ledger/" in schema.content
    docs = desk_api.get("/api/v1/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
