"""Events are append-only: once a merchant may have read one, it never changes or disappears (issue 14)."""

from django.db import migrations

PG_SQL = """
CREATE OR REPLACE FUNCTION events_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER events_event_append_only BEFORE UPDATE OR DELETE ON events_event
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)
    elif vendor == "sqlite":
        for op in ("UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER IF NOT EXISTS events_event_no_{op.lower()} BEFORE {op} ON events_event "
                "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
            )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS events_event_append_only ON events_event;"
            "DROP FUNCTION IF EXISTS events_refuse_change();"
        )
    elif schema_editor.connection.vendor == "sqlite":
        for op in ("update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS events_event_no_{op}")


class Migration(migrations.Migration):
    dependencies = [("events", "0001_events_and_webhooks")]
    operations = [migrations.RunPython(forwards, backwards)]
