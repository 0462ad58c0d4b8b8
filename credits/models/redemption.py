import secrets

from django.db import models

_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_redemption_public_id() -> str:
    return "scr_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


class StoreCreditRedemption(models.Model):
    """Part (or all) of a store credit spent at the merchant's checkout.

    One per (credit, idempotency key): a retry of the same checkout finds the
    redemption it made instead of spending twice, whichever API key retries.
    Each has its own STORE_CREDIT_REDEEMED journal entry (one-to-one, so no
    redemption is booked twice and none goes unbooked). Never edited.
    """

    public_id = models.CharField(max_length=32, unique=True, default=new_redemption_public_id, editable=False)
    credit = models.ForeignKey("credits.StoreCredit", on_delete=models.PROTECT, related_name="redemptions")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    idempotency_key = models.CharField(max_length=255)
    reference = models.CharField(max_length=200, blank=True, default="", help_text="The merchant's (order id …).")
    balance_after_minor = models.BigIntegerField()
    api_key = models.ForeignKey("refunds.ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    journal_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, related_name="store_credit_redemption"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="credit_redemption_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(balance_after_minor__gte=0), name="credit_redemption_balance_after_not_negative"
            ),
            models.UniqueConstraint(fields=["credit", "idempotency_key"], name="credit_redemption_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount_minor} {self.currency}"
