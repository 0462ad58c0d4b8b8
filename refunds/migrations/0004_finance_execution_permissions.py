"""Finance sees the outbox (dead letters), payouts and the webhook inbox."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from refunds.permissions import roles_sync

    roles_sync(apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [("refunds", "0003_provider_execution_evidence")]
    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
