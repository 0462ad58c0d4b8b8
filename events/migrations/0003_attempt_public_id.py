"""A public id for each webhook attempt: the API lists them and pages by it (issue 14).

Added nullable, filled row by row, then made unique and required, so a
database that already recorded attempts migrates too.
"""

from django.db import migrations, models

import events.models


def fill(apps, schema_editor):
    WebhookAttempt = apps.get_model("events", "WebhookAttempt")
    for attempt in WebhookAttempt.objects.filter(public_id__isnull=True).only("pk").iterator():
        WebhookAttempt.objects.filter(pk=attempt.pk).update(public_id=events.models.new_attempt_id())


class Migration(migrations.Migration):
    dependencies = [("events", "0002_append_only")]

    operations = [
        migrations.AddField(
            model_name="webhookattempt",
            name="public_id",
            field=models.CharField(max_length=32, null=True, editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="webhookattempt",
            name="public_id",
            field=models.CharField(default=events.models.new_attempt_id, editable=False, max_length=32, unique=True),
        ),
    ]
