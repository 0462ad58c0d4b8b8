"""The synthetic refund's merchant is a flag, not a slug (issue 16): `Merchant.synthetic`, one at most.

No existing row is flagged: a merchant already called `synthetic` may be a real tenant, and the
journey refuses to adopt it (operations.synthetic.synthetic_merchant) rather than guess.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0027_pause_permission"),
    ]

    operations = [
        migrations.AddField(
            model_name="merchant",
            name="synthetic",
            field=models.BooleanField(default=False),
        ),
        migrations.AddConstraint(
            model_name="merchant",
            constraint=models.UniqueConstraint(
                condition=models.Q(("synthetic", True)), fields=("synthetic",), name="merchant_one_synthetic"
            ),
        ),
    ]
