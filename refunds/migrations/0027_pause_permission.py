"""Kill switches from the console (issue 16): the permission, granted to risk and the operations admin.

`refunds.manage_pauses` (refunds.permissions.Perm.MANAGE_PAUSES). The role
groups are synced again, after every app the roles name has its models, so a
fresh database's roles hold it.
"""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from refunds.permissions import roles_sync

    roles_sync(apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0026_operations_pause_trace_context"),
        ("events", "0005_console_permission"),
        ("audit", "0005_actor_channel"),
        ("ledger", "0008_store_credit"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="operationspause",
            options={
                "ordering": ["-paused_at", "-id"],
                "permissions": [("manage_pauses", "Pause and resume auto-approval and provider submission")],
            },
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
