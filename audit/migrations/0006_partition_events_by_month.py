"""Audit events partitioned by month of `occurred_at` (issue 17; docs/operations.md "Partitions").

PostgreSQL only (`core.partitions.table_convert`); the SQLite demo keeps one table.

The existing table becomes the partition of every event before the first
monthly partition (attached, not copied); the append-only trigger is
re-created on the partitioned table, which applies it to every partition.
Events keep their ids (one sequence), so the hash chain, which hashes each
event's id, is unchanged and verifies across partitions.

The trigger that queues each new event for the sealer becomes a row trigger
(it was a statement trigger reading the statement's new rows): PostgreSQL
fires a partitioned table's statement triggers only for statements naming
that table, so an INSERT naming a partition would have escaped the queue.
Row triggers are applied to every partition, present and future, and fire
whichever table the INSERT names: still no code path, ORM or raw SQL, adds
an event outside the chain. One insert into the queue per event instead of
one per statement: an audited change writes one or two events.

The primary key becomes (id, occurred_at). The foreign keys of the seals and
of the sealer's queue into the events (`event_id`) cannot stay: PostgreSQL
lets a foreign key name only a unique key of a partitioned table, and every
unique key there contains the partition column. They are dropped (Django:
`db_constraint=False`), which loses nothing the chain relies on: events can
never be deleted or changed (the append-only trigger), the sealer only seals
events it has just read, and `verify_audit` reports a seal whose event is
gone as a gap in the chain. `AuditSeal.event` stays unique (one seal per
event). Retention never touches audit events; a later archive step may
detach old partitions (docs/operations.md).
"""

import django.db.models.deletion
from django.db import migrations, models

from core.partitions import ForeignKeyIn, PartitionSpec, table_convert, table_unconvert

SPEC = PartitionSpec(
    table="audit_auditevent",
    column="occurred_at",
    referenced_by=(ForeignKeyIn("audit_auditseal", "event_id"), ForeignKeyIn("audit_auditpending", "event_id")),
)


PG_QUEUE_PER_ROW = """
DROP TRIGGER audit_auditevent_queue_for_seal ON audit_auditevent;
CREATE OR REPLACE FUNCTION audit_queue_for_seal() RETURNS trigger AS $$
BEGIN
    INSERT INTO audit_auditpending (event_id) VALUES (NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_auditevent_queue_for_seal AFTER INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_queue_for_seal();
"""

# The statement trigger of migration 0004: what `unpartition` puts back.
PG_QUEUE_PER_STATEMENT = """
DROP TRIGGER audit_auditevent_queue_for_seal ON audit_auditevent;
CREATE OR REPLACE FUNCTION audit_queue_for_seal() RETURNS trigger AS $$
BEGIN
    INSERT INTO audit_auditpending (event_id) SELECT id FROM inserted_events;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_auditevent_queue_for_seal AFTER INSERT ON audit_auditevent
    REFERENCING NEW TABLE AS inserted_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_queue_for_seal();
"""


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        table_convert(cursor, SPEC)
    schema_editor.execute(PG_QUEUE_PER_ROW, params=None)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(PG_QUEUE_PER_STATEMENT, params=None)
    with schema_editor.connection.cursor() as cursor:
        table_unconvert(cursor, SPEC)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_actor_channel")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditseal",
                    name="event",
                    field=models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="seal",
                        to="audit.auditevent",
                    ),
                ),
                migrations.AlterField(
                    model_name="auditpending",
                    name="event",
                    field=models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="audit.auditevent",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(partition, unpartition)],
        ),
    ]
