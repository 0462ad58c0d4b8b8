from django.db import models

from refunds.enums import PaymentStatus, Rail


class Payment(models.Model):
    """The captured payment refunds are taken from.

    `refund_reserved_minor` is the sum of the payment's refunds in an active
    state (SPEC §3 "remaining refundable"). It is kept by the refund services
    under a row lock on this payment, and the database refuses any value outside
    0..amount — so no code path, however buggy, can over-refund.
    """

    order = models.OneToOneField("refunds.Order", on_delete=models.PROTECT, related_name="payment")
    # Which provider holds the payment (a name of providers.registry.PROVIDERS): its refunds go there.
    provider = models.CharField(max_length=30)
    rail = models.CharField(max_length=20, choices=Rail.choices)
    provider_payment_id = models.CharField(max_length=100, unique=True)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices)
    captured_at = models.DateTimeField(null=True, blank=True)
    refund_reserved_minor = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(refund_reserved_minor__gte=0)
                & models.Q(refund_reserved_minor__lte=models.F("amount_minor")),
                name="payment_reserved_within_amount",
            ),
            models.CheckConstraint(condition=models.Q(status__in=PaymentStatus.values), name="payment_status_known"),
        ]

    def __str__(self) -> str:
        return self.provider_payment_id

    @property
    def remaining_refundable_minor(self) -> int:
        return self.amount_minor - self.refund_reserved_minor
