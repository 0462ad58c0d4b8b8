"""A refund's version, and the access admin role (issue 10 items 8 and 9).

`Refund.version` is bumped by every edit and every move; an approval names
the version its approver saw (refunds.services.decide). A trigger bumps it
for any change of state, amount, reply or approvals needed that did not
(raw SQL, a code path that forgot), and never lets it go back: no change of
a refund's terms leaves its version as the approver saw it.

The role groups are synced again for the new `access_admin` role (users,
groups, API keys; no refund permission). On SQLite, adding a column rebuilds
the table and drops its triggers: the state guard of 0002 is re-created.
"""

import importlib

from django.db import migrations, models

_TERMS_CHANGED = (
    "(NEW.state, NEW.amount_minor, NEW.draft_reply, NEW.approvals_required) IS DISTINCT FROM "
    "(OLD.state, OLD.amount_minor, OLD.draft_reply, OLD.approvals_required)"
)

PG_SQL = f"""
CREATE OR REPLACE FUNCTION refunds_refund_bump_version() RETURNS trigger AS $$
BEGIN
    IF {_TERMS_CHANGED} AND NEW.version <= OLD.version THEN
        NEW.version := OLD.version + 1;
    ELSIF NEW.version < OLD.version THEN
        NEW.version := OLD.version;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER refunds_refund_version_bump BEFORE UPDATE ON refunds_refund
    FOR EACH ROW EXECUTE FUNCTION refunds_refund_bump_version();
"""

# SQLite cannot assign NEW in a BEFORE trigger: correct the row after the update instead
# (recursive triggers are off, so this UPDATE fires nothing further).
SQLITE_SQL = """
CREATE TRIGGER IF NOT EXISTS refunds_refund_version_bump AFTER UPDATE ON refunds_refund
WHEN NEW.version < OLD.version OR (
    (NEW.state IS NOT OLD.state OR NEW.amount_minor IS NOT OLD.amount_minor
     OR NEW.draft_reply IS NOT OLD.draft_reply OR NEW.approvals_required IS NOT OLD.approvals_required)
    AND NEW.version <= OLD.version)
BEGIN UPDATE refunds_refund SET version = OLD.version + 1 WHERE id = NEW.id; END;
"""


def version_bump(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)
    elif vendor == "sqlite":
        state_guard = importlib.import_module("refunds.migrations.0002_state_machine_and_roles")
        schema_editor.execute("DROP TRIGGER IF EXISTS refunds_refund_state_guard")
        schema_editor.execute(state_guard.SQLITE_SQL)
        schema_editor.execute(SQLITE_SQL)


def drop_version_bump(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS refunds_refund_version_bump ON refunds_refund;"
            "DROP FUNCTION IF EXISTS refunds_refund_bump_version();"
        )
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS refunds_refund_version_bump")


def sync_roles(apps, schema_editor):
    from refunds.permissions import roles_sync

    roles_sync(apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0015_webhook_events_held"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalrefund",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.AddField(
            model_name="refund",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.AddConstraint(
            model_name="refund",
            constraint=models.CheckConstraint(condition=models.Q(version__gte=1), name="refund_version_positive"),
        ),
        migrations.RunPython(version_bump, drop_version_bump),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
