from django.conf import settings
from django.db import models

from refunds.enums import PayoutStatus


class PayoutTask(models.Model):
    """A refund to be paid out by hand (a payment whose provider settles by hand, SPEC §6).

    Created with the approval; finance marks it paid with the bank or cash
    reference, which completes the refund.
    """

    refund = models.OneToOneField("refunds.Refund", on_delete=models.PROTECT, related_name="payout_task")
    status = models.CharField(max_length=10, choices=PayoutStatus.choices, default=PayoutStatus.OPEN)
    reference = models.CharField(max_length=200, blank=True)
    paid_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status=PayoutStatus.PAID) | ~models.Q(reference=""),
                name="payout_paid_needs_reference",
            )
        ]

    def __str__(self) -> str:
        return f"payout for {self.refund_id} ({self.status})"
