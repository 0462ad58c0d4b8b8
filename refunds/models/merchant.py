from django.db import models

DEFAULT_MERCHANT_SLUG = "default"


class Merchant(models.Model):
    """A tenant: the business whose merchant system pushes orders and asks for refunds.

    Its API keys see only its own orders, customers and refunds (docs/api.md
    "Tenancy"); staff see every merchant. A fresh database has one, `default`
    (migration refunds/0013), so a single-merchant installation never names it.
    """

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200, blank=True)
    # Who is told when something of the merchant's integration needs a person: a webhook endpoint
    # disabled after days of failures (events.delivery). `create_merchant --email`, or the console.
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.slug
