"""Audit events record the channel an actor used when it is not the console or the API ("slack", issue 13)."""

import importlib

from django.db import migrations, models


def sqlite_guards(apps, schema_editor):
    # Adding a column rebuilds the events table on SQLite, which drops its triggers: recreate them.
    if schema_editor.connection.vendor == "sqlite":
        chain = importlib.import_module("audit.migrations.0004_sealed_chain")
        chain.create_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_sealed_chain"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="channel",
            field=models.CharField(blank=True, db_default="", default="", max_length=20),
        ),
        migrations.RunPython(sqlite_guards, migrations.RunPython.noop),
    ]
