"""The provider webhook inbox partitioned by month of `received_at` (issue 17; docs/operations.md "Partitions").

PostgreSQL only (`core.partitions.table_convert`); the SQLite demo keeps one
table, and its unique (provider, event_id) key as it was.

"Every verified event, once, by (provider, event id)" (SPEC §6) must hold
across months: a provider retries an event for days, across a month's end
too. A partitioned table's unique keys must hold the partition column, so
the inbox's own key, (provider, event_id) — (provider, event_id, received_at)
from here on — would refuse only a copy received at the same instant. The key is kept
whole in `refunds_webhookeventkey`, which nothing partitions: a trigger
inserts each new inbox row's (provider, event id) there before the row, in
the same statement, so a second insert fails on that table's primary key
with the same IntegrityError as before, whichever month holds the first
(`refunds.services.webhooks.webhook_receive` answers it as a replay). Two
more triggers keep the two in step: an inbox row's provider and event id
never change, and deleting an inbox row frees its key.

The existing table becomes the partition of every event before the first
monthly partition (attached, not copied); nothing has a foreign key into it.
"""

from django.db import migrations, models

from core.partitions import PartitionSpec, table_convert, table_unconvert

SPEC = PartitionSpec(table="refunds_webhookevent", column="received_at")

PG_KEY_TRIGGERS = """
CREATE OR REPLACE FUNCTION refunds_webhookevent_claim_key() RETURNS trigger AS $$
BEGIN
    -- Fails with unique_violation if this provider's event id is in the inbox already, in any month.
    INSERT INTO refunds_webhookeventkey (provider, event_id) VALUES (NEW.provider, NEW.event_id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER refunds_webhookevent_claim_key BEFORE INSERT ON refunds_webhookevent
    FOR EACH ROW EXECUTE FUNCTION refunds_webhookevent_claim_key();

CREATE OR REPLACE FUNCTION refunds_webhookevent_key_fixed() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the provider and event id of a stored webhook event never change'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER refunds_webhookevent_key_fixed BEFORE UPDATE OF provider, event_id ON refunds_webhookevent
    FOR EACH ROW WHEN (NEW.provider IS DISTINCT FROM OLD.provider OR NEW.event_id IS DISTINCT FROM OLD.event_id)
    EXECUTE FUNCTION refunds_webhookevent_key_fixed();

CREATE OR REPLACE FUNCTION refunds_webhookevent_free_key() RETURNS trigger AS $$
BEGIN
    DELETE FROM refunds_webhookeventkey WHERE provider = OLD.provider AND event_id = OLD.event_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER refunds_webhookevent_free_key AFTER DELETE ON refunds_webhookevent
    FOR EACH ROW EXECUTE FUNCTION refunds_webhookevent_free_key();
"""

PG_KEY_TRIGGERS_DROP = """
DROP TRIGGER IF EXISTS refunds_webhookevent_claim_key ON refunds_webhookevent;
DROP TRIGGER IF EXISTS refunds_webhookevent_key_fixed ON refunds_webhookevent;
DROP TRIGGER IF EXISTS refunds_webhookevent_free_key ON refunds_webhookevent;
DROP FUNCTION IF EXISTS refunds_webhookevent_claim_key();
DROP FUNCTION IF EXISTS refunds_webhookevent_key_fixed();
DROP FUNCTION IF EXISTS refunds_webhookevent_free_key();
"""


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "INSERT INTO refunds_webhookeventkey (provider, event_id) SELECT provider, event_id FROM refunds_webhookevent",
        params=None,
    )
    with schema_editor.connection.cursor() as cursor:
        table_convert(cursor, SPEC)
    # On the partitioned table: every partition, present and future, gets them.
    schema_editor.execute(PG_KEY_TRIGGERS, params=None)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(PG_KEY_TRIGGERS_DROP, params=None)
    with schema_editor.connection.cursor() as cursor:
        table_unconvert(cursor, SPEC)


class Migration(migrations.Migration):
    dependencies = [("refunds", "0029_pause_read_after_its_lock")]

    operations = [
        migrations.CreateModel(
            name="WebhookEventKey",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "provider", "event_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("provider", models.CharField(max_length=30)),
                ("event_id", models.CharField(max_length=100)),
            ],
        ),
        migrations.RunPython(partition, unpartition),
    ]
