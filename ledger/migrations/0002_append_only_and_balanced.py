"""The ledger's invariants, enforced by the database itself (SPEC §4).

- Journal entries and postings can never be updated or deleted (triggers).
- At commit, every entry's postings sum to zero per currency and its debits
  equal the entry amount (deferred constraint trigger, PostgreSQL).
- The chart of accounts.

TRUNCATE is left to administrators (and the test runner's flush).
"""

from django.db import migrations

PG_SQL = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_journalentry_append_only BEFORE UPDATE OR DELETE ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_posting_append_only BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

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

CREATE OR REPLACE FUNCTION ledger_check_entry() RETURNS trigger AS $$
BEGIN
    PERFORM ledger_assert_balanced(NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_posting_entry();
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_journalentry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry();
"""

PG_REVERSE = """
DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_journalentry;
DROP TRIGGER IF EXISTS ledger_posting_balanced ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_check_entry();
DROP FUNCTION IF EXISTS ledger_check_posting_entry();
DROP FUNCTION IF EXISTS ledger_assert_balanced(bigint);
DROP TRIGGER IF EXISTS ledger_posting_append_only ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_journalentry_append_only ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_refuse_change();
"""

SQLITE_SQL = [
    f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table}
        BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;"""
    for table in ("ledger_journalentry", "ledger_posting")
    for op in ("UPDATE", "DELETE")
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_SQL:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)


def create_accounts(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    from ledger.services import CHART_OF_ACCOUNTS

    for code, kind in CHART_OF_ACCOUNTS.items():
        Account.objects.get_or_create(code=code, defaults={"name": code.label, "kind": kind})


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.RunPython(create_accounts, migrations.RunPython.noop),
    ]
