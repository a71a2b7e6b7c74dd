import pytest
from django.contrib import admin
from django.urls import reverse

from billing.actors import Actor
from billing.notifications.services import notify
from tests.billing.factories import LedgerEntryFactory, StaffTaskFactory

pytestmark = pytest.mark.django_db


def test_every_billing_model_has_a_working_admin_list_search_and_detail(manager_client):
    entry = LedgerEntryFactory()
    StaffTaskFactory(patient=entry.patient)
    notify(
        template="billing/test_notice",
        context={"first_name": "A", "line": "x"},
        patient=entry.patient,
        by=Actor.system_component("tests"),
    )
    models = [m for m in admin.site._registry if m._meta.app_label == "billing"]
    assert {m.__name__ for m in models} >= {
        "Practice",
        "Location",
        "Household",
        "Patient",
        "LedgerEntry",
        "StaffTask",
        "AuditEvent",
        "Message",
    }
    for model in models:
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert manager_client.get(changelist).status_code == 200, changelist
        assert manager_client.get(changelist, {"q": "a"}).status_code == 200, changelist
        obj = model.objects.first()
        if obj is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            assert manager_client.get(change).status_code == 200, change
