import re
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# --- Hardening (issue 8): inputs that used to reach a 500, and a PUT that deactivated charts -----------------
class TestPatientWrites:
    def test_is_active_is_read_only_so_sending_it_is_not_a_500(self, desk_api):
        form = desk_api.post("/api/v1/patients/", {**PATIENT, "is_active": "false"}, format="multipart")
        assert form.status_code == 201, form.data
        assert form.data["is_active"] is True
        as_json = desk_api.post("/api/v1/patients/", {**PATIENT, "first_name": "Bo", "is_active": False}, format="json")
        assert as_json.status_code == 201 and as_json.data["is_active"] is True

    def test_a_form_encoded_put_never_deactivates_the_patient(self, desk_api):
        patient = PatientFactory()
        body = {
            **PATIENT,
            "preferred_name": "",
            "preferred_channel": "email",
            "home_location": "",
            "household": patient.household_id,
            "external_id": "",
        }
        response = desk_api.put(f"/api/v1/patients/{patient.pk}/", body, format="multipart")
        assert response.status_code == 200, response.data
        patient.refresh_from_db()
        assert patient.is_active and patient.first_name == "Ana"

    def test_put_replaces_so_it_needs_every_writable_field_and_patch_does_not(self, desk_api):
        patient = PatientFactory(first_name="Ana")
        put = desk_api.put(f"/api/v1/patients/{patient.pk}/", {"first_name": "Anna"}, format="json")
        assert put.status_code == 400
        assert {"last_name", "date_of_birth", "email", "phone", "household", "external_id"} <= set(put.data)
        patient.refresh_from_db()
        assert patient.first_name == "Ana"
        patch = desk_api.patch(f"/api/v1/patients/{patient.pk}/", {"first_name": "Anna"}, format="json")
        assert patch.status_code == 200 and patch.data["first_name"] == "Anna"

    def test_household_put_needs_name_and_guarantor(self, desk_api):
        household = PatientFactory().household
        response = desk_api.put(f"/api/v1/households/{household.pk}/", {"name": "Renamed"}, format="json")
        assert response.status_code == 400 and "guarantor" in response.data
        cleared = desk_api.put(
            f"/api/v1/households/{household.pk}/", {"name": "Renamed", "guarantor": None}, format="json"
        )
        assert cleared.status_code == 400 and "guarantor" in cleared.data
        household.refresh_from_db()
        assert household.guarantor_id is not None and household.name != "Renamed"

    @pytest.mark.parametrize(
        "name", ["Ana\x07", "An\u200ba", "\u202eanA", "Ana\x1b[31m", "Ana\ufeff", "Ana\nMaria", "Ana\U000f0000"]
    )
    @pytest.mark.parametrize("field", ["first_name", "last_name", "preferred_name"])
    def test_control_and_invisible_characters_in_names_are_refused(self, desk_api, name, field):
        response = desk_api.post("/api/v1/patients/", {**PATIENT, field: name}, format="json")
        assert response.status_code == 400 and field in response.data, response.data
        assert "U+" in str(response.data[field])
        assert not Patient.objects.exists()

    def test_names_that_need_a_zero_width_joiner_are_accepted(self, desk_api):
        response = desk_api.post("/api/v1/patients/", {**PATIENT, "first_name": "Ali\u200cReza"}, format="json")
        assert response.status_code == 201, response.data

    def test_the_service_refuses_control_characters_too(self):
        from billing.actors import Actor
        from billing.services.patients import household_create, patient_create

        with pytest.raises(ValidationError) as exc:
            patient_create(
                first_name="Ana\x07",
                last_name="Garcia",
                date_of_birth=date(1984, 3, 2),
                by=Actor.system_component("test"),
            )
        assert "first_name" in exc.value.message_dict
        with pytest.raises(ValidationError):
            household_create(name="Garcia\u202e", by=Actor.system_component("test"))
        assert not Patient.objects.exists() and not Household.objects.exists()

    @pytest.mark.parametrize("body", [{"name": 0}, {"name": "Okafor\u200b"}])
    def test_household_names_are_text_without_control_characters(self, desk_api, body):
        response = desk_api.post("/api/v1/households/", body, format="json")
        assert response.status_code == 400 and "name" in response.data
        assert not Household.objects.exists()


class TestNoFormatSuffixRoutes:
    @pytest.mark.parametrize("path", ["/api/v1/patients/{patient}/ledger.json", "/api/v1/patients/{patient}.json"])
    def test_suffix_urls_are_a_json_404_not_a_500(self, manager_api, path):
        patient = PatientFactory()
        response = manager_api.get(path.format(patient=patient.pk))
        assert response.status_code == 404 and response["Content-Type"] == "application/json"

    def test_reverse_json_is_a_404_and_reverses_nothing(self, manager_api):
        entry = LedgerEntryFactory()
        response = manager_api.post(f"/api/v1/ledger/{entry.pk}/reverse.json", {"reason": "x"}, format="json")
        assert response.status_code == 404
        assert LedgerEntry.objects.count() == 1

    def test_pages_outside_the_api_keep_the_html_404(self, front_desk_client):
        response = front_desk_client.get("/console/no-such-page/")
        assert response.status_code == 404 and b"<html" in response.content.lower()


class TestAmountsAndDates:
    @pytest.mark.parametrize(
        "amount", [2**63, 10**30, -(2**63) - 1, "--5", "²", "١٢٣", "１２３", "1e3", "+5", " ", 100_000_001, "9" * 5000]
    )
    def test_amounts_that_are_not_ascii_digits_in_range_are_a_400(self, manager_api, amount):
        patient = PatientFactory()
        body = {"kind": "charge", "amount_cents": amount}
        response = manager_api.post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json")
        assert response.status_code == 400 and "amount_cents" in response.data, response.data
        assert not LedgerEntry.objects.exists()

    def test_the_largest_entry_is_accepted(self, manager_api):
        patient = PatientFactory()
        body = {"kind": "charge", "amount_cents": "100000000", "effective_date": "2026-01-02"}
        response = manager_api.post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json")
        assert response.status_code == 201 and response.data["amount_cents"] == 100_000_000

    @pytest.mark.parametrize("day", ["1900-01-01", "2615-01-01", "0001-01-01", "9999-12-31"])
    def test_effective_dates_far_outside_the_practice_life_are_a_400_naming_the_field(self, manager_api, day):
        patient = PatientFactory()
        entry = LedgerEntryFactory()
        post = manager_api.post(
            f"/api/v1/patients/{patient.pk}/ledger/",
            {"kind": "charge", "amount_cents": 100, "effective_date": day},
            format="json",
        )
        assert post.status_code == 400 and "effective_date" in post.data, post.data
        reverse = manager_api.post(
            f"/api/v1/ledger/{entry.pk}/reverse/", {"reason": "typo", "effective_date": day}, format="json"
        )
        assert reverse.status_code == 400 and "effective_date" in reverse.data, reverse.data
        assert LedgerEntry.objects.count() == 1

    @pytest.mark.parametrize("page_size", ["abc", "0", "-1", "²", str(2**63)])
    def test_a_malformed_page_size_is_a_400(self, desk_api, page_size):
        response = desk_api.get("/api/v1/patients/", {"page_size": page_size})
        assert response.status_code == 400 and "page_size" in response.data

    @pytest.mark.parametrize("path", ["/api/v1/patients/{n}/", "/api/v1/ledger/{n}/", "/api/v1/households/{n}/"])
    def test_huge_ids_are_a_404(self, desk_api, path):
        assert desk_api.get(path.format(n=2**64)).status_code == 404

    def test_include_inactive_takes_true_or_false_only(self, desk_api):
        assert desk_api.get("/api/v1/patients/", {"include_inactive": "yes"}).status_code == 400
        assert desk_api.get("/api/v1/patients/", {"include_inactive": "true"}).status_code == 200

    @given(amount=st.one_of(st.integers(), st.text(max_size=25)))
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_parse_cents_takes_ascii_integers_within_the_limit_and_refuses_the_rest(self, amount):
        from billing.money import MAX_ENTRY_CENTS
        from billing.validators import parse_cents

        text = amount.strip() if isinstance(amount, str) else None
        expected_ok = (isinstance(amount, int) and abs(amount) <= MAX_ENTRY_CENTS) or (
            text is not None
            and re.fullmatch(r"-?[0-9]+", text, re.ASCII) is not None
            and abs(int(text)) <= MAX_ENTRY_CENTS
        )
        try:
            value = parse_cents(amount)
        except ValidationError:
            assert not expected_ok
        else:
            assert expected_ok and value == int(amount)


class TestConfirmations:
    def test_a_future_dated_entry_needs_confirm_future_date(self, manager_api):
        from billing.clock import practice_today

        patient = PatientFactory()
        body = {"kind": "charge", "amount_cents": 100, "effective_date": str(practice_today() + timedelta(days=3))}
        refused = manager_api.post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json")
        assert refused.status_code == 400 and "effective_date" in refused.data
        posted = manager_api.post(
            f"/api/v1/patients/{patient.pk}/ledger/", {**body, "confirm_future_date": True}, format="json"
        )
        assert posted.status_code == 201, posted.data

    def test_an_overpayment_needs_confirm_overpayment(self, manager_api):
        patient = PatientFactory()
        LedgerEntryFactory(patient=patient, amount_cents=30750, effective_date=date(2026, 1, 2))
        body = {"kind": "payment", "amount_cents": -300000, "effective_date": "2026-01-03"}
        refused = manager_api.post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json")
        assert refused.status_code == 400 and "amount_cents" in refused.data, refused.data
        posted = manager_api.post(
            f"/api/v1/patients/{patient.pk}/ledger/", {**body, "confirm_overpayment": True}, format="json"
        )
        assert posted.status_code == 201, posted.data


class TestSchemaMatchesResponses:
    def test_every_entry_response_carries_its_running_balance(self, manager_api):
        patient = PatientFactory()
        first = LedgerEntryFactory(patient=patient, amount_cents=10000, effective_date=date(2026, 1, 1))
        LedgerEntryFactory(patient=patient, amount_cents=500, effective_date=date(2026, 1, 2))
        detail = manager_api.get(f"/api/v1/ledger/{first.pk}/")
        assert detail.status_code == 200 and detail.data["running_balance_cents"] == 10000
        reversal = manager_api.post(f"/api/v1/ledger/{first.pk}/reverse/", {"reason": "typo"}, format="json")
        assert reversal.status_code == 201 and reversal.data["running_balance_cents"] == 500
        posted = manager_api.post(
            f"/api/v1/patients/{patient.pk}/ledger/",
            {"kind": "charge", "amount_cents": 250, "effective_date": "2026-01-03"},
            format="json",
        )  # dated between the two charges: the balance in date order, not the entry's own amount
        assert posted.status_code == 201 and posted.data["running_balance_cents"] == 10750

    def test_each_operation_documents_its_400_403_and_404(self, desk_api):
        schema = desk_api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
        reverse = schema["paths"]["/api/v1/ledger/{id}/reverse/"]["post"]["responses"]
        assert {"201", "400", "403", "404"} <= set(reverse)
        assert set(schema["paths"]["/api/v1/patients/"]["get"]["responses"]) >= {"200", "400", "403", "404"}
        assert "403" not in schema["paths"]["/api/v1/booking/types/"]["get"]["responses"]
        put = schema["paths"]["/api/v1/patients/{id}/"]["put"]["requestBody"]["content"]["application/json"]
        required = schema["components"]["schemas"][put["schema"]["$ref"].rsplit("/", 1)[1]]["required"]
        assert {"first_name", "email", "household", "external_id"} <= set(required) and "is_active" not in required


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/patients/?q=ana%00",
        "/api/v1/booking/types/?location=down%00town",
        "/api/v1/booking/availability/?location=x%00&appointment_type=1",
        "/api/v1/appointments/?location=a%00b",
    ],
)
def test_a_nul_in_a_query_parameter_is_a_400_on_every_database(desk_api, url):
    response = desk_api.get(url)
    assert response.status_code == 400 and response.json(), response.content
