"""The audit trail reads as a manager reads (issue 8): local times inside before/after, plain verbs,
patient actions credited to the patient."""

import pytest
from django.urls import reverse

from scheduling import links
from tests.scheduling.conftest import TUESDAY, at
from tests.scheduling.factories import AppointmentFactory

pytestmark = pytest.mark.django_db


def test_a_patient_cancelling_by_manage_link_reads_as_the_patient_at_local_times(
    client, manager_client, clinic, frozen
):
    appointment = AppointmentFactory(
        location=clinic.location,
        provider=clinic.providers[0],
        operatory=clinic.operatories[0],
        appointment_type=clinic.type,
        start=at(TUESDAY, 10),  # 10:00 in Chicago (CDT) is 15:00 UTC
    )
    token = links.make_token(links.MANAGE, appointment.pk)
    response = client.post(reverse("booking:manage", args=[token]), {"action": "cancel", "reason": "away"})
    assert response.status_code in (200, 302)

    page = manager_client.get(reverse("console:audit")).content.decode()
    assert "patient (manage link)" in page
    assert "scheduling.manage-link" not in page
    assert "Cancelled an appointment" in page
    assert "2026-06-02 10:00 CDT" in page  # the appointment's time in the location's zone
    assert "T15:00:00" not in page and "15:00 UTC" not in page

    patient_page = manager_client.get(reverse("console:patient_detail", args=[appointment.patient_id]))
    assert "patient (manage link)" in patient_page.content.decode()

    # The filters take the words the page shows.
    found = manager_client.get(reverse("console:audit"), {"actor": "patient", "verb": "cancelled"})
    assert "Cancelled an appointment" in found.content.decode()
    none = manager_client.get(reverse("console:audit"), {"actor": "frontdesk"}).content.decode()
    assert "No audit events" in none
