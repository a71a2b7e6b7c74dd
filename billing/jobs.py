"""Background jobs (django-q2). Work that must not run for a transaction that rolls back is queued
on commit; with Q_CLUSTER["sync"] (tests, simple demos) the job then runs inline."""

import os

from django.db import transaction
from django_q.brokers import get_broker
from django_q.tasks import async_task

_brokers: dict[int, object] = {}


def broker():
    """One django-q2 broker per process. ``async_task`` alone builds a new one (with a new Redis
    connection) on every call, which costs milliseconds on every request that queues a job."""
    found = _brokers.get(os.getpid())
    if found is None:
        found = _brokers[os.getpid()] = get_broker()
    return found


def enqueue(func: str, *args, **kwargs) -> None:
    transaction.on_commit(lambda: async_task(func, *args, broker=broker(), **kwargs))
