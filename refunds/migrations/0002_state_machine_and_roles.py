"""Database guards for the refund state machine, and the role groups.

The trigger refuses any UPDATE of `state` that is not an edge of SPEC §3.1,
so even a raw SQL statement or a buggy code path cannot, say, move a
completed refund back to approved. The edge list is generated from
`ALLOWED_TRANSITIONS`, the same list the FSM tests walk.
"""

from django.db import migrations

EDGES = [
    ("requested", "approved"),
    ("requested", "denied"),
    ("requested", "canceled"),
    ("approved", "canceled"),
    ("approved", "submitting"),
    ("failed", "submitting"),
    ("submitting", "provider_pending"),
    ("submitting", "completed"),
    ("submitting", "failed"),
    ("provider_pending", "completed"),
    ("provider_pending", "failed"),
]
_edge_sql = " OR ".join(f"(OLD.state = '{a}' AND NEW.state = '{b}')" for a, b in EDGES)

PG_SQL = f"""
CREATE OR REPLACE FUNCTION refunds_refund_guard_state() RETURNS trigger AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT ({_edge_sql}) THEN
        RAISE EXCEPTION 'refund %: transition % -> % is not allowed', OLD.public_id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.amount_minor IS DISTINCT FROM OLD.amount_minor AND OLD.state <> 'requested' THEN
        RAISE EXCEPTION 'refund %: amount can only change while requested', OLD.public_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER refunds_refund_state_guard BEFORE UPDATE ON refunds_refund
    FOR EACH ROW EXECUTE FUNCTION refunds_refund_guard_state();
"""

SQLITE_SQL = f"""
CREATE TRIGGER IF NOT EXISTS refunds_refund_state_guard BEFORE UPDATE OF state ON refunds_refund
WHEN NEW.state IS NOT OLD.state AND NOT ({_edge_sql})
BEGIN SELECT RAISE(ABORT, 'refund transition not allowed'); END;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS refunds_refund_state_guard ON refunds_refund;"
            "DROP FUNCTION IF EXISTS refunds_refund_guard_state();"
        )


def create_roles(apps, schema_editor):
    from refunds.permissions import roles_sync

    roles_sync(apps, strict=False)


def create_default_policy(apps, schema_editor):
    RefundPolicy = apps.get_model("refunds", "RefundPolicy")
    if not RefundPolicy.objects.exists():
        RefundPolicy.objects.create(version=1, note="Default policy")


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(create_default_policy, migrations.RunPython.noop),
    ]
