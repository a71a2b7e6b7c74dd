"""Issue 8: the demo seed booked a patient at two overlapping times (two providers, or two locations). It
books through the staff service, which now refuses that (PatientOverlap), and the seed picks someone else."""

from collections import defaultdict

import pytest

from billing.demo.seed import seed_demo
from scheduling.models import ACTIVE_STATUSES, Appointment

pytestmark = pytest.mark.django_db


def overlapping_pairs() -> list[tuple[int, int]]:
    by_patient = defaultdict(list)
    for appt in Appointment.objects.filter(status__in=ACTIVE_STATUSES, patient__isnull=False).order_by("start"):
        by_patient[appt.patient_id].append(appt)
    pairs = []
    for visits in by_patient.values():
        for earlier, later in zip(visits, visits[1:], strict=False):
            if later.start < earlier.end:
                pairs.append((earlier.pk, later.pk))
    return pairs


def test_the_demo_seed_never_books_a_patient_twice_at_once():
    seed_demo()
    assert Appointment.objects.count() > 100  # a lived-in fortnight, not an empty calendar
    assert overlapping_pairs() == []
    seed_demo()  # safe to run again, and still no overlap
    assert overlapping_pairs() == []
