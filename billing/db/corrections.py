"""The database decides how an entry may be corrected: one correction path per entry, whichever comes first.

Two paths correct money on the ledger: a **reversal** (staff, or the system, posts the exact opposite) and a
**refund** (Stripe gives money back; the REFUND entry points at its payment through ``related_entry``). Using
both on one entry counts the correction twice. So:

1. Money that moved through Stripe is corrected through Stripe. A reversal of an entry whose source is
   ``stripe`` is refused, with one exception: Stripe itself reporting that a refund failed, which posts a
   reversal of that refund whose own source is ``stripe`` (``ledger_reverse_failed_refund``).
   Both databases: a BEFORE INSERT trigger (the source of a row never changes, so there is no race).
2. One entry is never corrected by both a reversal and a refund, whatever its source (a manual payment can
   be pointed at by a refund too).
   PostgreSQL: the exclusion constraint ``ledger_one_correction_path`` on the model, ``(COALESCE(reverses_id,
   related_entry_id) WITH =, kind WITH <>) WHERE kind IN ('reversal', 'refund')`` (GiST, with btree_gist):
   any number of refunds of one payment, or one reversal, never both; it holds between concurrent
   transactions too. The services lock the corrected row first (``select_for_update``) so that a race ends
   in a clear ValidationError rather than a deadlock between the two inserts' constraint checks.
   SQLite: the same BEFORE INSERT trigger checks it; SQLite serialises writers, so the check can't race.

Both databases raise an IntegrityError (PostgreSQL: SQLSTATE 23001 restrict_violation or 23P01
exclusion_violation; SQLite: RAISE(ABORT) in a trigger is a constraint error).

Installed by migration 0004 and re-asserted after every ``migrate``, like the append-only triggers.
"""

from __future__ import annotations

from django.db.models import Q
from django.db.models.functions import Coalesce

from billing.db.exclusion import PostgresExclusionConstraint

TABLE = "billing_ledgerentry"
TRIGGER = "billing_ledgerentry_correction_path"

STRIPE_REVERSAL_MESSAGE = "money that moved through Stripe is corrected by a refund in Stripe, not by a ledger reversal"
BOTH_MESSAGE = "an entry is corrected by a reversal or by refunds, never both"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION chairside_ledger_correction_path() RETURNS trigger AS $$
BEGIN
    IF NEW.kind = 'reversal' AND EXISTS (
        SELECT 1 FROM {TABLE} t
        WHERE t.id = NEW.reverses_id AND t.source = 'stripe' AND NOT (t.kind = 'refund' AND NEW.source = 'stripe')
    ) THEN
        RAISE EXCEPTION '{TABLE}: {STRIPE_REVERSAL_MESSAGE} (entry %)', NEW.reverses_id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

SQLITE_TRIGGER = f"""
CREATE TRIGGER IF NOT EXISTS {TRIGGER} BEFORE INSERT ON {TABLE}
WHEN NEW.kind IN ('reversal', 'refund')
BEGIN
    SELECT RAISE(ABORT, '{TABLE}: {STRIPE_REVERSAL_MESSAGE}')
    WHERE NEW.kind = 'reversal' AND EXISTS (
        SELECT 1 FROM {TABLE} t
        WHERE t.id = NEW.reverses_id AND t.source = 'stripe' AND NOT (t.kind = 'refund' AND NEW.source = 'stripe')
    );
    SELECT RAISE(ABORT, '{TABLE}: {BOTH_MESSAGE} (the entry was refunded)')
    WHERE NEW.kind = 'reversal' AND EXISTS (
        SELECT 1 FROM {TABLE} r WHERE r.kind = 'refund' AND r.related_entry_id = NEW.reverses_id
    );
    SELECT RAISE(ABORT, '{TABLE}: {BOTH_MESSAGE} (the entry was reversed)')
    WHERE NEW.kind = 'refund' AND EXISTS (
        SELECT 1 FROM {TABLE} r WHERE r.kind = 'reversal' AND r.reverses_id = NEW.related_entry_id
    );
END
"""


def one_correction_path_constraint() -> PostgresExclusionConstraint:
    """PostgreSQL only (a no-op on SQLite, where the trigger above checks the same)."""
    return PostgresExclusionConstraint(
        name="ledger_one_correction_path",
        expressions=[(Coalesce("reverses", "related_entry"), "="), ("kind", "<>")],
        condition=Q(kind__in=["reversal", "refund"]),
        violation_error_message="This entry is already corrected another way (a reversal or a refund), never both.",
    )


def install_correction_triggers(connection) -> None:
    with connection.cursor() as cursor:
        if TABLE not in set(connection.introspection.table_names(cursor)):
            return
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTION)
            cursor.execute(
                f"CREATE OR REPLACE TRIGGER {TRIGGER} BEFORE INSERT ON {TABLE} "
                "FOR EACH ROW WHEN (NEW.kind = 'reversal') EXECUTE FUNCTION chairside_ledger_correction_path()"
            )
        elif connection.vendor == "sqlite":
            cursor.execute(SQLITE_TRIGGER)


def double_corrections(connection) -> list[int]:
    """Entries already corrected both ways (written before this rule existed): the constraint can't be added
    while any exist, so the migration names them instead of failing obscurely."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT v.reverses_id FROM {TABLE} v JOIN {TABLE} r "
            "ON r.kind = 'refund' AND r.related_entry_id = v.reverses_id WHERE v.kind = 'reversal'"
        )
        return [row[0] for row in cursor.fetchall()]
