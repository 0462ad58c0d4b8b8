"""Vocabularies become enums (choices only; no data changes): payout status, outbox topic; `deny` is not a policy outcome."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0009_payment_and_webhook_provider"),
    ]

    operations = [
        migrations.AlterField(
            model_name="historicalrefund",
            name="policy_outcome",
            field=models.CharField(choices=[("auto_approve", "Auto Approve"), ("review", "Review")], max_length=20),
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="topic",
            field=models.CharField(choices=[("refund.submit", "Submit")], default="refund.submit", max_length=40),
        ),
        migrations.AlterField(
            model_name="payouttask",
            name="status",
            field=models.CharField(
                choices=[("open", "Open"), ("paid", "Paid"), ("canceled", "Canceled")], default="open", max_length=10
            ),
        ),
        migrations.AlterField(
            model_name="refund",
            name="policy_outcome",
            field=models.CharField(choices=[("auto_approve", "Auto Approve"), ("review", "Review")], max_length=20),
        ),
    ]
