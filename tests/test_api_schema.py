"""Schema-driven property tests of the whole /api/v1/ (schemathesis, as a pytest plugin, in-process over WSGI).

For every operation of our OpenAPI schema, schemathesis generates requests (valid and invalid: wrong types,
missing fields, out-of-range numbers, odd Unicode) and checks each answer: never a 5xx, a status code the schema
documents, a documented content type and headers, a body that matches the schema, invalid input refused, and
(for the authenticated roles) auth actually enforced. Deterministic (derandomized, no example database) and
bounded: API_PROPERTY_EXAMPLES generated examples per operation as manager (default 10; a third of that as
front desk and anonymous), plus schemathesis's boundary-value (coverage) cases. docs/api.md, "Property tests",
says which checks run, which don't and why, and how to run more.
"""

import json
import os
from datetime import UTC, date, datetime, timedelta

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from billing.models import EntryKind
from billing.roles import FRONT_DESK_GROUP, MANAGER_GROUP
from tests.billing.factories import HouseholdFactory, LedgerEntryFactory, LocationFactory, PatientFactory, UserFactory
from tests.scheduling.factories import AppointmentFactory, AppointmentTypeFactory, ProviderFactory, WorkingHoursFactory

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("API_PROPERTY_EXAMPLES", "10"))

# The schema exactly as /api/v1/schema/ serves it.
schema = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
)
# with_security_parameters=False: we send a real token ourselves; generated ones would just be refused.
schema.config.generation.update(max_examples=EXAMPLES, deterministic=True, with_security_parameters=False)

# Checks we leave out, and why (docs/api.md repeats this):
# - positive_data_acceptance expects every schema-valid request to succeed, but rules a schema can't express
#   (an amount's sign follows its kind, a date filter needs a location, a slot must still be free, an id must
#   exist) answer a documented 400/404/409 to schema-valid input.
EXCLUDED_CHECKS = [positive_data_acceptance]

# Ids of the objects the fixture creates, by collection, so generated ids often name a real object.
KNOWN_IDS: dict[str, list[int]] = {}


@schema.hook
def map_path_parameters(context, path_parameters):
    """Turn most generated ids into ids that exist (else nearly every request is a 404); keep a few unknown."""
    if not path_parameters:
        return path_parameters
    value = path_parameters.get("id")
    collection = context.operation.path.split("/")[3]  # /api/v1/<collection>/{id}/...
    known = KNOWN_IDS.get(collection)
    if known and isinstance(value, int) and not isinstance(value, bool) and value % 5 != 4:
        path_parameters["id"] = known[value % len(known)]
    return path_parameters


_django_app = get_wsgi_application()


def wsgi_app(environ, start_response):
    """Django's WSGI app, called in-process (schemathesis's WSGI transport: no server, no network)."""
    environ.setdefault("REMOTE_ADDR", "127.0.0.1")  # every real server sets it; werkzeug's test client doesn't
    return _django_app(environ, start_response)


schema.app = wsgi_app  # the checks that send follow-up requests (auth probes) use it too


@pytest.fixture
def in_process():
    """Like Django's test client, keep the test's database connection open across requests (the
    request_finished signal would close it in the middle of the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def practice(db):
    """A little of everything the API reads: charts in households, ledgers, appointments in each status."""
    location = LocationFactory(slug="downtown", time_zone="America/Chicago")
    provider = ProviderFactory()
    for weekday in range(7):
        WorkingHoursFactory(provider=provider, location=location, weekday=weekday)
    AppointmentTypeFactory()
    household = HouseholdFactory(name="Rivera household")
    patients = [PatientFactory(household=household, home_location=location) for _ in range(2)]
    household.guarantor = patients[0]
    household.save()
    patients.append(PatientFactory(home_location=location))
    entries = []
    for patient in patients:
        entries.append(LedgerEntryFactory(patient=patient, amount_cents=12500, effective_date=date(2026, 1, 5)))
        entries.append(
            LedgerEntryFactory(
                patient=patient, kind=EntryKind.PAYMENT, amount_cents=-2500, effective_date=date(2026, 1, 9)
            )
        )
    start = datetime(2030, 3, 4, 15, tzinfo=UTC)
    appointments = [
        AppointmentFactory(location=location, provider=provider, patient=patients[i % 3], start=start + timedelta(i))
        for i in range(4)
    ]
    KNOWN_IDS.update(
        patients=[p.pk for p in patients],
        households=[p.household_id for p in patients],
        ledger=[e.pk for e in entries],
        appointments=[a.pk for a in appointments],
    )
    yield
    KNOWN_IDS.clear()


def token_for(role: str) -> dict:
    user = UserFactory(username=f"property-{role}", role=role)
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


PROPERTY_SETTINGS = settings(
    deadline=None,
    database=None,  # no example database: every run (and CI) tries the same examples
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@schema.parametrize()
@PROPERTY_SETTINGS
def test_api_as_manager(case, practice, in_process):
    case.call_and_validate(headers=token_for_cached(MANAGER_GROUP), excluded_checks=EXCLUDED_CHECKS)


@schema.parametrize()
@settings(PROPERTY_SETTINGS, max_examples=max(EXAMPLES // 3, 3))
def test_api_as_front_desk(case, practice, in_process):
    response = case.call_and_validate(headers=token_for_cached(FRONT_DESK_GROUP), excluded_checks=EXCLUDED_CHECKS)
    if _manager_only(case):
        assert not 200 <= response.status_code < 300, "a manager-only operation answered the front desk"


@schema.parametrize()
@settings(PROPERTY_SETTINGS, max_examples=max(EXAMPLES // 3, 3))
def test_api_as_anonymous(case, practice, in_process):
    response = case.call_and_validate(excluded_checks=EXCLUDED_CHECKS)
    if not _public(case):  # 403, or 404 for a path no route takes (a malformed id): never data
        assert response.status_code in (403, 404, 405), "a staff operation answered someone not logged in"


_tokens: dict[str, dict] = {}


def token_for_cached(role: str) -> dict:
    """One token per role per test (hypothesis runs many examples inside one test's transaction)."""
    from rest_framework.authtoken.models import Token as TokenModel

    headers = _tokens.get(role)
    if headers is None or not TokenModel.objects.filter(key=headers["Authorization"].split()[1]).exists():
        headers = _tokens[role] = token_for(role)
    return headers


def _public(case) -> bool:
    return case.operation.path.startswith(("/api/v1/booking/", "/api/v1/auth/"))


def _manager_only(case) -> bool:
    path, method = case.operation.path, case.method.upper()  # the case's: the unsupported-method probe sends OPTIONS
    return method == "POST" and (path.endswith("/reverse/") or path == "/api/v1/patients/{id}/ledger/")
