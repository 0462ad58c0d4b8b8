from django.conf import settings
from django.db import models


class PayoutTask(models.Model):
    """A refund to be paid out by hand (PROVIDER=manual, SPEC §6).

    Created with the approval; finance marks it paid with the bank or cash
    reference, which completes the refund.
    """

    STATUS_OPEN = "open"
    STATUS_PAID = "paid"
    STATUS_CANCELED = "canceled"

    refund = models.OneToOneField("refunds.Refund", on_delete=models.PROTECT, related_name="payout_task")
    status = models.CharField(
        max_length=10,
        choices=[(STATUS_OPEN, "open"), (STATUS_PAID, "paid"), (STATUS_CANCELED, "canceled")],
        default=STATUS_OPEN,
    )
    reference = models.CharField(max_length=200, blank=True)
    paid_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="paid") | ~models.Q(reference=""), name="payout_paid_needs_reference"
            )
        ]

    def __str__(self) -> str:
        return f"payout for {self.refund_id} ({self.status})"
