"""States of a store credit."""

from django.db import models


class CreditStatus(models.TextChoices):
    ACTIVE = "active"
    # Balance zero: every unit was redeemed.
    SPENT = "spent"
    # Past `expires_at` with a balance left: the rest was written off as breakage.
    EXPIRED = "expired"
