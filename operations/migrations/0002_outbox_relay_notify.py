"""The outboxes wake the relay (issue 17, core.handoff): a NOTIFY at commit when rows were inserted.

One AFTER INSERT trigger per outbox table, FOR EACH STATEMENT: a create that
writes its rows in one statement of CTEs (core.write_batch) fires it once, not
per row. It runs `pg_notify('outbox_relay', <table>)` when the statement
inserted anything (the transition table: a delivery INSERT … SELECT that
found no endpoint notifies nobody). PostgreSQL delivers a NOTIFY at COMMIT
only, drops it on ROLLBACK, and sends one per channel and payload however
often a transaction repeats it: a create costs at most one notification per
table, delivered to every listening relay.

None of the three tables is partitioned today (events/0006 and refunds/0030
partition events and the webhook inbox). Should one be, a statement trigger
on the partitioned parent fires for INSERTs through the parent, which is how
the code writes; the trigger is then to be re-created on the parent.

The trigger fires whatever OUTBOX_HANDOFF says: in `publish` mode nobody
listens and a NOTIFY with no listener costs a queue entry at commit, no more.
PostgreSQL only; the SQLite demo's relay polls.
"""

from django.db import migrations

CHANNEL = "outbox_relay"
TABLES = ("refunds_outboxmessage", "notifications_customeremail", "events_webhookdelivery")

FUNCTION = f"""
CREATE OR REPLACE FUNCTION outbox_relay_notify() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted) THEN
        PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_relay_notify AFTER INSERT ON {table} REFERENCING NEW TABLE AS inserted "
            "FOR EACH STATEMENT EXECUTE FUNCTION outbox_relay_notify()",
            params=None,
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_relay_notify ON {table}", params=None)
    schema_editor.execute("DROP FUNCTION IF EXISTS outbox_relay_notify()", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0001_synthetic_runs"),
        ("refunds", "0031_create_reads"),
        ("notifications", "0001_initial"),
        ("events", "0006_partition_events_by_month"),
    ]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
