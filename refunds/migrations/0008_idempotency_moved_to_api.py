"""Idempotency records moved to the `api` app: the model leaves this app's state only.

`api.0001_initial` takes the table over and renames it.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0007_refund_request_token"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="IdempotencyRecord")]),
    ]
