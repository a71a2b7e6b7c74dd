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

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections
from django.db.models import Func


class TsTzRange(Func):
    """``tstzrange(start, end)``: half-open ``[start, end)``, so back-to-back appointments never clash."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class PostgresExclusionConstraint(ExclusionConstraint):
    """An exclusion constraint that exists on PostgreSQL and is a no-op elsewhere (SQLite)."""

    def constraint_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().constraint_sql(model, schema_editor)

    def create_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().create_sql(model, schema_editor)

    def remove_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().remove_sql(model, schema_editor)

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS):
        if connections[using].vendor != "postgresql":
            return
        super().validate(model, instance, exclude=exclude, using=using)


def violated_constraint(exc: IntegrityError) -> str:
    """The name of the constraint an IntegrityError reports ("" if the driver doesn't say)."""
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    name = getattr(diag, "constraint_name", None) if diag is not None else None
    if name:
        return name
    return str(exc)
