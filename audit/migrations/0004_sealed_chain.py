"""Seal the audit chain in batches instead of inside every audited transaction.

Until now each event carried its own seq/prev_hash/hash, computed under one
chain-head row lock that every audited transaction in every process queued
for. Events now go in with no lock; a trigger queues each in audit_auditpending
and the sealer links them into audit_auditseal (append-only too) a few seconds
after commit. Existing events are queued, so the first sealer run chains them.
"""

import django.db.models.deletion
from django.db import migrations, models

PG_TRIGGERS = """
CREATE OR REPLACE FUNCTION audit_queue_for_seal() RETURNS trigger AS $$
BEGIN
    INSERT INTO audit_auditpending (event_id) SELECT id FROM inserted_events;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_auditevent_queue_for_seal AFTER INSERT ON audit_auditevent
    REFERENCING NEW TABLE AS inserted_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_queue_for_seal();
CREATE TRIGGER audit_auditseal_append_only BEFORE UPDATE OR DELETE ON audit_auditseal
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""

PG_DROP = """
DROP TRIGGER IF EXISTS audit_auditseal_append_only ON audit_auditseal;
DROP TRIGGER IF EXISTS audit_auditevent_queue_for_seal ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_queue_for_seal();
"""


def sqlite_append_only(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;"
        for op in ("UPDATE", "DELETE")
    ]


def queue_existing_events(apps, schema_editor):
    # Their old inline hashes are gone with the columns; the sealer chains them anew, oldest first.
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditPending = apps.get_model("audit", "AuditPending")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    AuditPending.objects.bulk_create(
        (AuditPending(event_id=pk) for pk in AuditEvent.objects.values_list("pk", flat=True).iterator()),
        batch_size=2000,
    )
    AuditChainHead.objects.update_or_create(id=1, defaults={"seq": 0, "hash": "0" * 64})


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_TRIGGERS, params=None)
    elif vendor == "sqlite":
        # Removing columns rebuilt the events table on SQLite, which drops its triggers: recreate them.
        statements = [*sqlite_append_only("audit_auditevent"), *sqlite_append_only("audit_auditseal")]
        statements.append(
            "CREATE TRIGGER IF NOT EXISTS audit_auditevent_queue_for_seal AFTER INSERT ON audit_auditevent "
            "BEGIN INSERT INTO audit_auditpending (event_id) VALUES (NEW.id); END;"
        )
        for statement in statements:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_auditevent_queue_for_seal")
        for op in ("update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS audit_auditseal_no_{op}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chain_head_row")]

    operations = [
        migrations.CreateModel(
            name="AuditPending",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="audit.auditevent",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                ("seq", models.PositiveBigIntegerField(primary_key=True, serialize=False)),
                ("prev_hash", models.CharField(max_length=64)),
                ("hash", models.CharField(max_length=64, unique=True)),
                ("sealed_at", models.DateTimeField()),
                (
                    "event",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="seal", to="audit.auditevent"
                    ),
                ),
            ],
            options={"ordering": ["seq"]},
        ),
        migrations.RunPython(queue_existing_events, migrations.RunPython.noop),
        migrations.AlterModelOptions(name="auditevent", options={"ordering": ["id"]}),
        migrations.RemoveField(model_name="auditevent", name="hash"),
        migrations.RemoveField(model_name="auditevent", name="prev_hash"),
        migrations.RemoveField(model_name="auditevent", name="seq"),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
