"""Database triggers that keep history tables append-only even against raw SQL.

PostgreSQL: BEFORE UPDATE OR DELETE raises (SQLSTATE 23001, which Django reports as IntegrityError).
SQLite: BEFORE UPDATE aborts. DELETE stays possible there only because the test runner empties tables
with DELETE between tests; the Python-level guards in billing/models/base.py still refuse it.

Installed by a migration and re-asserted after every ``migrate`` (SQLite drops a table's triggers
when a later migration rebuilds the table).
"""

APPEND_ONLY_TABLES = ("billing_ledgerentry", "billing_auditevent")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION chairside_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused (post a correcting row instead)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def install_append_only_triggers(connection) -> None:
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
        tables = [t for t in APPEND_ONLY_TABLES if t in existing]
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTION)
            for table in tables:
                cursor.execute(
                    f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION chairside_refuse_change()"
                )
        elif connection.vendor == "sqlite":
            for table in tables:
                cursor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END"
                )
