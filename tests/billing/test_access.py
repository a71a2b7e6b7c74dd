"""Who may open what: anonymous → login; front desk refused on manager-only actions (console and API)."""

import pytest
from django.urls import reverse

from billing.models import LedgerEntry
from tests.billing.factories import LedgerEntryFactory, StaffTaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows():
    entry = LedgerEntryFactory()
    task = StaffTaskFactory(patient=entry.patient)
    return {"patient": entry.patient, "entry": entry, "task": task}


def console_urls(rows):
    p, e, t = rows["patient"].pk, rows["entry"].pk, rows["task"].pk
    return [
        reverse("console:today"),
        reverse("console:patient_search") + "?q=a",
        reverse("console:patient_create"),
        reverse("console:patient_detail", args=[p]),
        reverse("console:patient_edit", args=[p]),
        reverse("console:ledger_post", args=[p]),
        reverse("console:ledger_reverse", args=[p, e]),
        reverse("console:task_create", args=[p]),
        reverse("console:tasks"),
        reverse("console:task_resolve", args=[t]),
        reverse("console:audit"),
    ]


def test_anonymous_is_sent_to_login_from_every_console_page(client, rows):
    for url in console_urls(rows):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url


def test_anonymous_api_is_refused(api_client, rows):
    for url in ["/api/v1/patients/", f"/api/v1/patients/{rows['patient'].pk}/ledger/", "/api/v1/households/"]:
        assert api_client.get(url).status_code in (401, 403), url


def test_user_without_a_role_is_refused(client, rows):
    client.force_login(UserFactory(username="nobody"))
    assert client.get(reverse("console:today")).status_code == 403
    assert client.get(f"/api/v1/patients/{rows['patient'].pk}/").status_code == 403


@pytest.mark.parametrize("name", ["ledger_post", "ledger_reverse", "audit"])
def test_front_desk_is_refused_manager_only_console_pages(front_desk_client, rows, name):
    args = {"ledger_post": [rows["patient"].pk], "ledger_reverse": [rows["patient"].pk, rows["entry"].pk], "audit": []}
    assert front_desk_client.get(reverse(f"console:{name}", args=args[name])).status_code == 403
    assert front_desk_client.post(reverse(f"console:{name}", args=args[name]), {"reason": "x"}).status_code == 403
    assert LedgerEntry.objects.count() == 1


def test_front_desk_is_refused_manager_only_api_actions(api_client, front_desk, rows):
    api_client.force_authenticate(front_desk)
    posted = api_client.post(
        f"/api/v1/patients/{rows['patient'].pk}/ledger/", {"kind": "charge", "amount_cents": 100}, format="json"
    )
    reversed_ = api_client.post(f"/api/v1/ledger/{rows['entry'].pk}/reverse/", {"reason": "x"}, format="json")
    assert posted.status_code == 403 and reversed_.status_code == 403
    assert LedgerEntry.objects.count() == 1


def test_front_desk_does_not_see_the_audit_trail_on_the_patient_page(front_desk_client, rows):
    page = front_desk_client.get(reverse("console:patient_detail", args=[rows["patient"].pk])).content.decode()
    assert "Audit trail" not in page and "Reverse" not in page


def test_manager_sees_audit_and_reverse_links(manager_client, rows):
    page = manager_client.get(reverse("console:patient_detail", args=[rows["patient"].pk])).content.decode()
    assert "Audit trail" in page and "Reverse" in page


def test_front_desk_cannot_reach_the_django_admin(front_desk_client):
    assert front_desk_client.get("/admin/").status_code == 302


def test_admin_offers_no_way_to_change_the_ledger(manager_client, rows):
    entry = rows["entry"]
    assert manager_client.get("/admin/billing/ledgerentry/add/").status_code == 403
    assert manager_client.post(f"/admin/billing/ledgerentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    change = manager_client.post(f"/admin/billing/ledgerentry/{entry.pk}/change/", {"amount_cents": 1})
    assert change.status_code == 403
    entry.refresh_from_db()
    assert entry.amount_cents == 12500
    assert manager_client.get(f"/admin/billing/ledgerentry/{entry.pk}/change/").status_code == 200  # view only


class TestLoginRateLimit:
    def test_repeated_failed_logins_are_slowed(self, client, front_desk, settings):
        settings.LOGIN_RATE = "3/m"
        for _ in range(3):
            response = client.post(reverse("login"), {"username": "frontdesk", "password": "wrong"})
            assert response.status_code == 200
        blocked = client.post(reverse("login"), {"username": "frontdesk", "password": "correct horse battery"})
        assert blocked.status_code == 429

    def test_a_good_login_works(self, client, front_desk):
        response = client.post(reverse("login"), {"username": "frontdesk", "password": "correct horse battery"})
        assert response.status_code == 302 and response.url == reverse("console:today")

    def test_api_token_endpoint_is_rate_limited_too(self, api_client, front_desk, settings):
        settings.LOGIN_RATE = "2/m"
        for _ in range(2):
            api_client.post("/api/v1/auth/token/", {"username": "frontdesk", "password": "wrong"})
        assert api_client.post("/api/v1/auth/token/", {"username": "frontdesk", "password": "x"}).status_code == 429
