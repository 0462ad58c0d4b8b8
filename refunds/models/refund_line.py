from django.db import models


class RefundLine(models.Model):
    """What a refund by line takes of one order line (issue 15): units, and the money they are worth.

    `amount_minor` is the gross (net + tax) of the units, pro rata of the
    line's gross, and `tax_minor` the tax in it; the lines of a refund sum to
    its amount. Written once with the refund, never changed: an edit of the
    amount of a refund by line is refused.
    """

    refund = models.ForeignKey("refunds.Refund", on_delete=models.PROTECT, related_name="lines")
    order_line = models.ForeignKey("refunds.OrderLine", on_delete=models.PROTECT, related_name="refund_lines")
    quantity = models.PositiveIntegerField()
    amount_minor = models.BigIntegerField()
    tax_minor = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["order_line__line_no"]
        constraints = [
            models.UniqueConstraint(fields=["refund", "order_line"], name="refundline_once_per_order_line"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="refundline_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(amount_minor__gte=0, tax_minor__gte=0)
                & models.Q(tax_minor__lte=models.F("amount_minor")),
                name="refundline_amounts_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.refund_id}:{self.order_line_id}x{self.quantity}"
