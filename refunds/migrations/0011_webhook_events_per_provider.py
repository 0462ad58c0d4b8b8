"""Webhook events are unique per (provider, event id); every event names its provider; statuses are known."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0010_vocabularies_as_enums"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookevent",
            name="event_id",
            field=models.CharField(max_length=100),
        ),
        migrations.AddConstraint(
            model_name="webhookevent",
            constraint=models.UniqueConstraint(fields=("provider", "event_id"), name="webhook_event_once_per_provider"),
        ),
        migrations.AddConstraint(
            model_name="webhookevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("provider", ""), _negated=True), name="webhook_event_names_its_provider"
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["processed", "ignored", "unknown_refund"])),
                name="webhook_event_status_known",
            ),
        ),
    ]
