"""Database pieces that make double-booking impossible.

PostgreSQL: an exclusion constraint (GiST, with btree_gist for the equality column) refuses two active
appointments whose occupied time ranges overlap for one provider, and likewise for one operatory. The
constraint is partial on the active statuses, so a cancelled, rejected or expired appointment stops
blocking the moment a service changes its status; no clock lives inside the constraint.

SQLite has no exclusion constraints. There the project's settings open every transaction with
``BEGIN IMMEDIATE`` (``transaction_mode``), so each booking transaction holds the database's single write
lock from its first statement; the services re-check for overlaps inside that transaction before they
write, which serialises every booking write. ``ExclusionConstraint`` below emits no SQL there.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.postgres.fields import DateTimeRangeField
from django.db import DEFAULT_DB_ALIAS, IntegrityError, OperationalError, connections
from django.db.models import Func

from billing.db.exclusion import PostgresExclusionConstraint as BillingExclusionConstraint


class TsTzRange(Func):
    """``tstzrange(start, end)``: half-open ``[start, end)``, so back-to-back appointments never clash."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class PostgresExclusionConstraint(BillingExclusionConstraint):
    """The core's PostgreSQL-only exclusion constraint, under the name scheduling's migrations record."""


# PostgreSQL: two transactions that insert overlapping rows at the same moment can each find the other's
# uncommitted row while checking the exclusion constraint and wait for each other; the deadlock detector then
# aborts one of them with 40P01. For a booking that is just another way of losing the race.
RETRYABLE_SQLSTATES = ("40P01", "40001")  # deadlock detected, serialization failure


def is_retryable(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES


_LOCK_SPACE = 0x5C4E << 44  # this app's corner of PostgreSQL's advisory-lock key space
_LOCATION, _PROVIDER = 1 << 40, 2 << 40


def lock_calendar(*, location_id: int, provider_ids: Iterable[int]) -> None:
    """Queue up bookings that could clash, instead of letting them race.

    PostgreSQL: take transaction-scoped advisory locks on the location (every operatory clash is within
    one location) and on the provider(s) (a provider may work at several locations), always in ascending
    key order so two bookings can never wait for each other in a cycle. A booking then re-reads the
    calendar after everyone ahead of it has committed and answers "taken" cleanly, without doing its work
    twice or waiting for PostgreSQL's deadlock detector. The locks end with the transaction. The exclusion
    constraints stay the guarantee; this only makes the common case orderly and fast.

    SQLite: nothing to do; ``BEGIN IMMEDIATE`` already serialises every write transaction."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return
    keys = sorted({_LOCK_SPACE | _LOCATION | location_id, *(_LOCK_SPACE | _PROVIDER | pid for pid in provider_ids)})
    with connection.cursor() as cursor:
        for key in keys:  # one statement each: a single SELECT wouldn't guarantee the order
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def violated_constraint(exc: IntegrityError) -> str:
    """The name of the constraint an IntegrityError reports ("" if the driver doesn't say)."""
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    name = getattr(diag, "constraint_name", None) if diag is not None else None
    if name:
        return name
    return str(exc)
