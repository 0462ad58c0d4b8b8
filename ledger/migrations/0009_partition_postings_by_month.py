"""Postings carry their entry's `booked_on` and are partitioned by its month (issue 17; docs/operations.md "Partitions").

PostgreSQL only (`core.partitions.table_convert`); the SQLite demo keeps one
table (and gets the column too, filled the same way).

Why `booked_on`: it is the month the posting counts in, so a partition is an
accounting period — a closed month's partition never changes again, which is
what a later archive step wants. A posting has to carry it (a row is routed
to its partition by its own columns); PostgreSQL checks at commit, in the
balance trigger, that it is its entry's date. That check is also what lets
the balance trigger read one partition instead of all: every posting of an
entry is in the partition of the entry's month.

Journal entries are not partitioned: their unique (refund, entry_type) key is
what makes each posting happen at most once, and a unique key of a
partitioned table would have to contain the month — a retried posting
landing in the next month would then go through. Entries are a third of the
rows; postings, the rest.

Existing postings get their entry's date (the append-only trigger is
switched off for that one UPDATE, as 0005 did), then the table is converted:
it becomes the partition of every posting before the first monthly
partition (attached, not copied), the append-only and balance triggers are
re-created on the partitioned table. Nothing has a foreign key into postings.
"""

import importlib

from django.db import migrations, models

from core.partitions import PartitionSpec, table_convert, table_unconvert

SPEC = PartitionSpec(table="ledger_posting", column="booked_on")

PG_BALANCE = """
CREATE OR REPLACE FUNCTION ledger_assert_balanced(checked_entry bigint) RETURNS void AS $$
DECLARE
    unbalanced record;
    debits bigint;
    expected bigint;
    entry_booked_on date;
BEGIN
    SELECT amount_minor, booked_on INTO expected, entry_booked_on FROM ledger_journalentry WHERE id = checked_entry;
    -- Every posting of the entry is booked on the entry's date (ledger_check_posting_entry refuses any
    -- other at commit), so naming the date reads the one monthly partition that holds them all.
    SELECT currency, SUM(amount_minor) AS total INTO unbalanced
        FROM ledger_posting WHERE entry_id = checked_entry AND booked_on = entry_booked_on
        GROUP BY currency HAVING SUM(amount_minor) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: %', checked_entry, unbalanced.currency, unbalanced.total
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT COALESCE(SUM(amount_minor) FILTER (WHERE amount_minor > 0), 0) INTO debits
        FROM ledger_posting WHERE entry_id = checked_entry AND booked_on = entry_booked_on;
    IF debits <> expected THEN
        RAISE EXCEPTION 'journal entry % debits % but states amount %', checked_entry, debits, expected
            USING ERRCODE = 'check_violation';
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ledger_check_posting_entry() RETURNS trigger AS $$
DECLARE
    entry_booked_on date;
BEGIN
    SELECT booked_on INTO entry_booked_on FROM ledger_journalentry WHERE id = NEW.entry_id;
    IF NEW.booked_on IS DISTINCT FROM entry_booked_on THEN
        RAISE EXCEPTION 'posting % is booked on %, its journal entry % on %', NEW.id, NEW.booked_on, NEW.entry_id,
            entry_booked_on USING ERRCODE = 'check_violation';
    END IF;
    PERFORM ledger_assert_balanced(NEW.entry_id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

# The functions as migration 0002 made them: what `backwards` puts back.
PG_BALANCE_BEFORE = """
CREATE OR REPLACE FUNCTION ledger_assert_balanced(checked_entry bigint) RETURNS void AS $$
DECLARE
    unbalanced record;
    debits bigint;
    expected bigint;
BEGIN
    SELECT currency, SUM(amount_minor) AS total INTO unbalanced
        FROM ledger_posting WHERE entry_id = checked_entry
        GROUP BY currency HAVING SUM(amount_minor) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: %', checked_entry, unbalanced.currency, unbalanced.total
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT COALESCE(SUM(amount_minor) FILTER (WHERE amount_minor > 0), 0) INTO debits
        FROM ledger_posting WHERE entry_id = checked_entry;
    SELECT amount_minor INTO expected FROM ledger_journalentry WHERE id = checked_entry;
    IF debits <> expected THEN
        RAISE EXCEPTION 'journal entry % debits % but states amount %', checked_entry, debits, expected
            USING ERRCODE = 'check_violation';
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ledger_check_posting_entry() RETURNS trigger AS $$
BEGIN
    PERFORM ledger_assert_balanced(NEW.entry_id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def backfill(apps, schema_editor):
    """Each existing posting gets its entry's booked_on (the append-only guard is off for this one UPDATE)."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("ALTER TABLE ledger_posting DISABLE TRIGGER ledger_posting_append_only", params=None)
        schema_editor.execute(
            "UPDATE ledger_posting SET booked_on = e.booked_on FROM ledger_journalentry e WHERE e.id = entry_id",
            params=None,
        )
        schema_editor.execute("ALTER TABLE ledger_posting ENABLE TRIGGER ledger_posting_append_only", params=None)
    elif vendor == "sqlite":
        # Adding a nullable column does not rebuild the table on SQLite: its guards are still there.
        schema_editor.execute("DROP TRIGGER IF EXISTS ledger_posting_no_update")
        schema_editor.execute(
            "UPDATE ledger_posting SET booked_on = "
            "(SELECT booked_on FROM ledger_journalentry e WHERE e.id = ledger_posting.entry_id)"
        )


def sqlite_guards(apps, schema_editor):
    # Making the column NOT NULL rebuilt the table on SQLite, dropping its triggers: create them again.
    if schema_editor.connection.vendor == "sqlite":
        periods = importlib.import_module("ledger.migrations.0005_periods_and_corrections")
        for statement in [*periods._sqlite_append_only(), periods.SQLITE_OPEN_PERIOD]:
            schema_editor.execute(statement)


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(PG_BALANCE, params=None)
    with schema_editor.connection.cursor() as cursor:
        table_convert(cursor, SPEC)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        table_unconvert(cursor, SPEC)
    schema_editor.execute(PG_BALANCE_BEFORE, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_store_credit")]

    operations = [
        migrations.AddField(
            model_name="posting",
            name="booked_on",
            field=models.DateField(null=True, editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="posting",
            name="booked_on",
            field=models.DateField(
                editable=False, help_text="Its journal entry's booked_on: the month it is partitioned by."
            ),
        ),
        migrations.RunPython(sqlite_guards, migrations.RunPython.noop),
        migrations.RunPython(partition, unpartition),
    ]
