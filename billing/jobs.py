"""Background jobs (django-q2). Work that must not run for a transaction that rolls back is queued
on commit; with Q_CLUSTER["sync"] (tests, simple demos) the job then runs inline."""

from django.db import transaction
from django_q.tasks import async_task


def enqueue(func: str, *args, **kwargs) -> None:
    transaction.on_commit(lambda: async_task(func, *args, **kwargs))
