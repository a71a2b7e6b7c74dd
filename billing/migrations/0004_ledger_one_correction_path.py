"""One correction path per ledger entry, decided by the database (issue 8).

A Stripe card payment could be reversed on the ledger and then refunded in Stripe (or the other way round),
both posting, so the balance counted the correction twice. From here on (see billing/db/corrections.py):

- a reversal of an entry whose source is Stripe is refused by a BEFORE INSERT trigger (PostgreSQL and
  SQLite), except the Stripe-sourced reversal of a refund Stripe reports failed;
- one entry is corrected by one reversal or by refunds, never both: on PostgreSQL the exclusion constraint
  ``ledger_one_correction_path`` = ``EXCLUDE USING gist ((COALESCE(reverses_id, related_entry_id)) WITH =,
  kind WITH <>) WHERE kind IN ('reversal', 'refund')`` (btree_gist, enabled here too: billing can't rely on
  a feature app's migration); on SQLite the same trigger checks it (SQLite serialises writers).

Rows written before this rule that are corrected both ways stop the migration with their ids and what to do
(the ledger is append-only; nothing here rewrites history). Chairside had no production release before this
rule, so only a demo database where the bug was reproduced can meet it.
"""

import django.contrib.postgres.operations
import django.db.models.functions.comparison
from django.db import migrations, models

import billing.db.exclusion
from billing.db.corrections import double_corrections, install_correction_triggers


def refuse_existing_double_corrections(apps, schema_editor):
    found = double_corrections(schema_editor.connection)
    if found:
        raise RuntimeError(
            "These ledger entries are corrected by both a reversal and a refund: "
            + ", ".join(f"#{pk}" for pk in found)
            + ". The new rule can't be added while they exist, and the append-only ledger can't drop them. On a "
            "demo database (the only place this was reproduced), start afresh: `make clean && make demo`. "
            "Anywhere else, restore from a backup taken before the double correction and replay what came after."
        )


def install_triggers(apps, schema_editor):
    install_correction_triggers(schema_editor.connection)


def drop_triggers(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER IF EXISTS billing_ledgerentry_correction_path ON billing_ledgerentry")
            cursor.execute("DROP FUNCTION IF EXISTS chairside_ledger_correction_path()")
        elif connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER IF EXISTS billing_ledgerentry_correction_path")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_stripe"),
    ]

    operations = [
        django.contrib.postgres.operations.BtreeGistExtension(),  # a no-op on SQLite
        migrations.RunPython(refuse_existing_double_corrections, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=billing.db.exclusion.PostgresExclusionConstraint(
                condition=models.Q(("kind__in", ["reversal", "refund"])),
                expressions=[
                    (django.db.models.functions.comparison.Coalesce("reverses", "related_entry"), "="),
                    ("kind", "<>"),
                ],
                name="ledger_one_correction_path",
                violation_error_message="This entry is already corrected another way (a reversal or a refund), "
                "never both.",
            ),
        ),
        # After the constraint: on SQLite adding it rebuilds the table, which drops the table's triggers.
        migrations.RunPython(install_triggers, drop_triggers),
    ]
