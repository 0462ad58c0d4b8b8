from django.db import models
from simple_history.models import HistoricalRecords


class Order(models.Model):
    """An order pushed by the merchant system (SPEC §3). Amounts live on lines and payment.

    `order_id` is the merchant's own id, unique within the merchant; the order's
    customer is always of the same merchant (a composite foreign key, refunds/0013).
    A refund belongs to its order's merchant.
    """

    merchant = models.ForeignKey("refunds.Merchant", on_delete=models.PROTECT, related_name="orders")
    # Indexed alone too: staff look an order up by its id across merchants (console).
    order_id = models.CharField(max_length=100, db_index=True)
    customer = models.ForeignKey("refunds.Customer", on_delete=models.PROTECT, related_name="orders")
    currency = models.CharField(max_length=3)
    placed_at = models.DateTimeField(null=True, blank=True)
    # For reservations: when the booked service starts (cancellation fee schedule).
    service_starts_at = models.DateTimeField(null=True, blank=True)
    # When the booked service ends (exclusive): with a start, a policy with proration refunds the days
    # not used (refunds.services.proration, issue 15).
    service_ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "order_id"], name="order_unique_order_id_per_merchant"),
        ]

    def __str__(self) -> str:
        return self.order_id


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField()
    sku = models.CharField(max_length=100, blank=True)
    description = models.CharField(max_length=300, blank=True)
    unit_amount_minor = models.BigIntegerField()
    quantity = models.PositiveIntegerField(default=1)
    tax_minor = models.BigIntegerField(default=0)
    discount_minor = models.BigIntegerField(default=0)
    # Units held by refunds by line in an active state, kept like Payment.refund_reserved_minor: under the
    # payment's row lock, released when such a refund leaves the active states, and the database refuses
    # any value outside 0..quantity — so a unit is never refunded twice (issue 15).
    refunded_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="orderline_unique_line_no"),
            models.CheckConstraint(
                condition=models.Q(unit_amount_minor__gte=0, tax_minor__gte=0, discount_minor__gte=0),
                name="orderline_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_quantity__gte=0) & models.Q(refunded_quantity__lte=models.F("quantity")),
                name="orderline_refunded_within_quantity",
            ),
        ]

    @property
    def net_minor(self) -> int:
        return self.unit_amount_minor * self.quantity - self.discount_minor

    @property
    def gross_minor(self) -> int:
        return self.net_minor + self.tax_minor
