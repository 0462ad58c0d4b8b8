"""Idempotency records, taken over from the refunds app (where they were until the layout of docs/architecture.md)."""

import django.db.models.deletion
from django.db import migrations, models


def _move_content_types(app_from: str, app_to: str, models: list[str]):
    """Keep permissions (and admin log entries) attached: the content types follow the models."""

    def forwards(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        for model in models:
            old = ContentType.objects.filter(app_label=app_from, model=model).first()
            if old is None:
                continue
            if ContentType.objects.filter(app_label=app_to, model=model).exists():
                old.delete()
            else:
                old.app_label = app_to
                old.save(update_fields=["app_label"])

    return forwards


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ('refunds', '0008_idempotency_moved_to_api'),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        # The tables exist already (made by the app the models came from): take them over in state ...
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='IdempotencyRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=255)),
                        ('fingerprint', models.CharField(max_length=64)),
                        ('response_status', models.PositiveSmallIntegerField(null=True)),
                        ('response_body', models.JSONField(null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('api_key', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='refunds.apikey')),
                    ],
                    options={
                        'db_table': 'refunds_idempotencyrecord',
                        'constraints': [models.UniqueConstraint(fields=('api_key', 'key'), name='idempotency_unique_key_per_api_key')],
                    },
                ),
            ],
        ),
        # ... then give them this app's names (ALTER TABLE … RENAME; indexes and data stay).
        migrations.AlterModelTable(name="idempotencyrecord", table=None),
        migrations.RunPython(
            _move_content_types("refunds", "api", ['idempotencyrecord']), migrations.RunPython.noop
        ),
    ]
