import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # live_server + Playwright's page in one test

import pytest
from django.conf import settings
from django.core.cache import cache

from billing.roles import FRONT_DESK_GROUP, MANAGER_GROUP
from tests.billing.factories import UserFactory

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (set DATABASE_URL); SQLite lacks it")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate-limit counters must not leak between tests
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_sms_outbox():
    from billing.notifications import sms

    sms.outbox.clear()


@pytest.fixture
def front_desk(db):
    return UserFactory(username="frontdesk", role=FRONT_DESK_GROUP)


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role=MANAGER_GROUP)


@pytest.fixture
def front_desk_client(client, front_desk):
    client.force_login(front_desk)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()
