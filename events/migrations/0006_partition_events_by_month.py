"""Events partitioned by month of `created_at` (issue 17; docs/operations.md "Partitions").

PostgreSQL only (`core.partitions.table_convert`); the SQLite demo keeps one table.

The existing table becomes the partition of every event before the first
monthly partition (attached, not copied); the append-only trigger is
re-created on the partitioned table, which applies it to every partition.

Unique keys must contain the partition column on a partitioned table, so in
PostgreSQL the unique keys on `public_id` and on (merchant, sequence) now
end with `created_at`: they keep their names and their indexes (lookups by
public id and the `after=` cursor use them), but the database alone no
longer refuses a repeat made at another instant. Both are unique by
construction: a public id is 24 random characters (about 124 bits: a
repeat is never expected, and one would only make a lookup ambiguous, never
move money), and sequences are handed out one at a time under the
merchant's `EventSequence` row lock (`events.writer.sequence_next`, which
every event goes through).

The foreign key of deliveries into events (`event_id`) is dropped (Django:
`db_constraint=False`): a foreign key into a partitioned table must name its
partition column. Events are never deleted (append-only trigger, no
retention), and a delivery is written with the event it was made for, in the
same transaction (`events.writer.event_write`).
"""

import django.db.models.deletion
from django.db import migrations, models

from core.partitions import ForeignKeyIn, PartitionSpec, table_convert, table_unconvert

SPEC = PartitionSpec(
    table="events_event", column="created_at", referenced_by=(ForeignKeyIn("events_webhookdelivery", "event_id"),)
)


def partition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        table_convert(cursor, SPEC)


def unpartition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        table_unconvert(cursor, SPEC)


class Migration(migrations.Migration):
    dependencies = [("events", "0005_console_permission")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="webhookdelivery",
                    name="event",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="deliveries",
                        to="events.event",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(partition, unpartition)],
        ),
    ]
