"""Staff manage merchants' webhook endpoints from the console: the permission, granted to its roles.

`events.manage_webhooks` (refunds.permissions.Perm.MANAGE_WEBHOOKS) goes to the
access admin and the operations admin. The role groups are synced again here,
after the events app has its models, so a fresh database's roles hold it.
"""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from refunds.permissions import roles_sync

    roles_sync(apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0004_redeliver_once_pending"),
        ("refunds", "0023_refund_metadata_merchant_contact"),
        ("audit", "0005_actor_channel"),
        ("ledger", "0006_settlement_reversed"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="webhookendpoint",
            options={
                "ordering": ["created_at", "pk"],
                "permissions": [("manage_webhooks", "Manage merchants' webhook endpoints and redeliver events")],
            },
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
