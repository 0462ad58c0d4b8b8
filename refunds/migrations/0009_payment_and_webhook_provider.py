"""Each payment (and each received webhook event) names its provider.

Until now the provider was global (`PROVIDER`): existing payments get that
setting's value, which is what their refunds were executed with. Webhook events
were only ever verified as Stripe's (the endpoint checked `Stripe-Signature`
whatever `PROVIDER` said), so existing events are Stripe's.
"""

from django.conf import settings
from django.db import migrations, models


def fill_from_setting(apps, schema_editor):
    apps.get_model("refunds", "Payment").objects.update(provider=getattr(settings, "PROVIDER", "") or "stripe")
    apps.get_model("refunds", "WebhookEvent").objects.update(provider="stripe")


class Migration(migrations.Migration):
    dependencies = [("refunds", "0008_idempotency_moved_to_api")]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="provider",
            field=models.CharField(default="stripe", max_length=30),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="webhookevent",
            name="provider",
            field=models.CharField(default="stripe", max_length=30),
            preserve_default=False,
        ),
        migrations.RunPython(fill_from_setting, migrations.RunPython.noop),
    ]
