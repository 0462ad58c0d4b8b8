"""One pending redelivery of an event per endpoint (issue 14): asking again returns it, never another.

Redeliveries already piled up (before this rule) are given up but the oldest
of each event and endpoint, so the unique index can be built.
"""

from django.db import migrations, models
from django.utils import timezone


def give_up_duplicates(apps, schema_editor):
    WebhookDelivery = apps.get_model("events", "WebhookDelivery")
    pending = WebhookDelivery.objects.filter(trigger="redeliver", status="pending").order_by("pk")
    kept: set[tuple[int, int]] = set()
    duplicates = []
    for delivery_id, event_id, endpoint_id in pending.values_list("pk", "event_id", "endpoint_id").iterator():
        if (event_id, endpoint_id) in kept:
            duplicates.append(delivery_id)
        else:
            kept.add((event_id, endpoint_id))
    if duplicates:
        WebhookDelivery.objects.filter(pk__in=duplicates).update(
            status="failed", failed_at=timezone.now(), last_error="duplicate redelivery", queued_until=None
        )


class Migration(migrations.Migration):
    dependencies = [("events", "0003_attempt_public_id")]

    operations = [
        migrations.RunPython(give_up_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "pending"), ("trigger", "redeliver")),
                fields=("event", "endpoint"),
                name="webhook_delivery_one_pending_redelivery",
            ),
        ),
    ]
