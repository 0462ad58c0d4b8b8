"""Keep the customers' status-link tokens encrypted at rest, never in plain text.

The token is a bearer secret (whoever has the link sees the refund). Lookups
already used its SHA-256 digest; the plain copy, kept so the API and emails
can show the link again, is replaced by a Fernet ciphertext.

Also re-creates the SQLite state-machine guard of migration 0002: SQLite
rebuilds a table to change its columns, and a rebuild drops its triggers.
"""

import importlib

from django.db import migrations, models


def seal_existing(apps, schema_editor):
    from refunds.models.refund import seal_status_token

    Refund = apps.get_model("refunds", "Refund")
    for refund in Refund.objects.only("pk", "status_token").iterator(chunk_size=1000):
        Refund.objects.filter(pk=refund.pk).update(status_token_sealed=seal_status_token(refund.status_token))


def sqlite_state_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        guard = importlib.import_module("refunds.migrations.0002_state_machine_and_roles")
        schema_editor.execute("DROP TRIGGER IF EXISTS refunds_refund_state_guard")
        schema_editor.execute(guard.SQLITE_SQL)


class Migration(migrations.Migration):
    dependencies = [("refunds", "0005_policy_fee_schedule_reasons")]

    operations = [
        migrations.AddField(
            model_name="refund",
            name="status_token_sealed",
            field=models.TextField(default="", editable=False),
            preserve_default=False,
        ),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
        migrations.RemoveField(model_name="refund", name="status_token"),
        migrations.RunPython(sqlite_state_guard, migrations.RunPython.noop),
    ]
