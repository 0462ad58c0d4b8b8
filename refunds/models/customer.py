from django.db import models


def mask_email(address: str) -> str:
    """'j•••@example.com': enough to recognise one's own address, shown on the status page.

    Always three dots, whatever the length: a count would tell anyone holding
    the link how long the hidden part of the address is.
    """
    local, _, domain = (address or "").partition("@")
    if not domain:
        return ""
    return f"{local[:1]}•••@{domain}"


class Customer(models.Model):
    """The merchant's customer, as far as refunds need one: who to tell, in which language.

    `external_id` is the merchant's own id, unique within the merchant only:
    two merchants may both have a customer "c-1", and neither can reach the other's.
    """

    merchant = models.ForeignKey("refunds.Merchant", on_delete=models.PROTECT, related_name="customers")
    external_id = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    locale = models.CharField(max_length=10, default="en")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="customer_unique_external_id_per_merchant"
            ),
            # The target of the orders' (customer, merchant) foreign key (migration refunds/0013):
            # PostgreSQL then refuses an order whose customer belongs to another merchant.
            models.UniqueConstraint(fields=["merchant", "id"], name="customer_unique_id_merchant"),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def masked_email(self) -> str:
        return mask_email(self.email)
