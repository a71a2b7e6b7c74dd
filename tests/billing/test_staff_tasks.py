import pytest
from django.core.exceptions import ValidationError

from billing.actors import Actor
from billing.models import AuditEvent, StaffTask, TaskStatus
from billing.services.staff_tasks import task_open, task_resolve
from tests.billing.factories import PatientFactory, StaffTaskFactory
from tests.concurrency import run_at_once
from tests.conftest import postgres_only

pytestmark = pytest.mark.django_db
JOB = Actor.system_component("recovery.job")


def test_a_job_that_runs_twice_opens_one_task():
    patient = PatientFactory()
    first, created = task_open(kind="general", title="Call", patient=patient, by=JOB, dedupe_key="k-1")
    again, created_again = task_open(kind="general", title="Call", patient=patient, by=JOB, dedupe_key="k-1")
    assert created and not created_again and first.pk == again.pk
    assert StaffTask.objects.count() == 1
    assert first.location == patient.home_location
    assert AuditEvent.objects.filter(verb="task.opened").count() == 1


def test_resolving_records_who_how_and_when(front_desk):
    task = StaffTaskFactory()
    task_resolve(task=task, by=Actor.of(front_desk), note="Called, left voicemail")
    task.refresh_from_db()
    assert task.status == TaskStatus.RESOLVED
    assert task.resolved_by == front_desk and task.resolved_at is not None
    assert task.resolution_note == "Called, left voicemail"
    assert AuditEvent.objects.get(verb="task.resolved").reason == "Called, left voicemail"


def test_a_task_is_resolved_once(front_desk, manager):
    task = StaffTaskFactory()
    task_resolve(task=task, by=Actor.of(front_desk), note="done")
    with pytest.raises(ValidationError) as exc:
        task_resolve(task=task, by=Actor.of(manager), note="also done")
    assert "frontdesk" in exc.value.message_dict["note"][0]


def test_a_note_is_required(front_desk):
    task = StaffTaskFactory()
    with pytest.raises(ValidationError) as exc:
        task_resolve(task=task, by=Actor.of(front_desk), note=" ")
    assert "note" in exc.value.message_dict
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_opening_the_same_task_at_once_make_one():
    patient = PatientFactory()

    def attempt():
        return task_open(kind="general", title="x", patient=patient, by=JOB, dedupe_key="race")[1]

    assert sorted(run_at_once([attempt] * 3)) == [False, False, True]
    assert StaffTask.objects.filter(dedupe_key="race").count() == 1
