"""Sync the role groups once every app whose permissions they hold has its models.

`roles_sync` can only grant permissions of models that exist at its point of
the migration plan; since the app split (api, reconciliation) the earlier
syncs can run before the audit and ledger models exist on a fresh database.
This one depends on the last migration of each of those apps.
"""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from refunds.permissions import roles_sync

    roles_sync(apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0011_webhook_events_per_provider"),
        ("audit", "0004_sealed_chain"),
        ("ledger", "0004_reconciliation_moved_out"),
        ("reconciliation", "0001_initial"),
        ("api", "0001_initial"),
    ]
    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
