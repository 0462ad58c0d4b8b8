import secrets

from django.db import models
from django.utils import timezone

from credits.codes import code_masked, code_unseal
from credits.enums import CreditStatus

_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_credit_public_id() -> str:
    return "sc_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


class StoreCredit(models.Model):
    """A refund paid as credit for the merchant's checkout (docs/instruments.md "Store credit").

    Issued once per refund when a store-credit refund completes
    (credits.services.issue), worth the refund plus the policy's bonus.
    Spent by redemptions (`balance_minor` goes down under the row lock) and
    written off when it expires. The database holds the money rules whatever
    writes to it: 0 ≤ balance ≤ amount, bonus < amount, status known, one credit
    per refund, and a spent credit has nothing left. The code is kept as a
    keyed digest (lookup) and sealed (read back for the customer), never in clear.
    """

    public_id = models.CharField(max_length=32, unique=True, default=new_credit_public_id, editable=False)
    merchant = models.ForeignKey("refunds.Merchant", on_delete=models.PROTECT, related_name="store_credits")
    refund = models.OneToOneField("refunds.Refund", on_delete=models.PROTECT, related_name="store_credit")
    code_digest = models.CharField(max_length=64, unique=True, editable=False)
    code_sealed = models.TextField(editable=False)
    code_last = models.CharField(max_length=4, editable=False, help_text="The last group, for staff to match a call.")
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField(help_text="Issued, bonus included.")
    bonus_minor = models.BigIntegerField(default=0)
    balance_minor = models.BigIntegerField()
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    status = models.CharField(max_length=10, choices=CreditStatus.choices, default=CreditStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The expiry sweep: active credits by expiry.
            models.Index(fields=["expires_at"], condition=models.Q(status="active"), name="credit_active_expiry_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="credit_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(bonus_minor__gte=0, bonus_minor__lt=models.F("amount_minor")),
                name="credit_bonus_within_amount",
            ),
            # Never below zero, never above what was issued: holds for raw SQL too.
            models.CheckConstraint(
                condition=models.Q(balance_minor__gte=0, balance_minor__lte=models.F("amount_minor")),
                name="credit_balance_0_to_amount",
            ),
            models.CheckConstraint(condition=models.Q(status__in=CreditStatus.values), name="credit_status_known"),
            models.CheckConstraint(
                condition=~models.Q(status=CreditStatus.SPENT) | models.Q(balance_minor=0),
                name="credit_spent_has_nothing_left",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=CreditStatus.ACTIVE) | models.Q(balance_minor__gt=0),
                name="credit_active_has_balance",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"

    @property
    def code(self) -> str:
        """The code in clear (unsealed): for the customer, the merchant's API, never for staff screens."""
        return code_unseal(self.code_sealed)

    @property
    def current_status(self) -> str:
        """The status as of now: a credit past its date reads expired before the sweep marks it so."""
        if self.status == CreditStatus.ACTIVE and self.expires_at is not None and self.expires_at <= timezone.now():
            return CreditStatus.EXPIRED
        return self.status

    @property
    def current_balance_minor(self) -> int:
        """What can still be spent now: nothing once past its date."""
        return 0 if self.current_status == CreditStatus.EXPIRED else self.balance_minor

    @property
    def code_masked(self) -> str:
        return code_masked(self.code_last)
