from django.db import models

DEFAULT_MERCHANT_SLUG = "default"
# The synthetic refund's own merchant (operations.synthetic): reserved, no tenant may be onboarded under it.
SYNTHETIC_MERCHANT_SLUG = "synthetic"


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
    # The synthetic refund's merchant (operations.synthetic, issue 16): its refunds are left out of the
    # SLO measures (refunds.metrics). A flag, not the slug: only the journey sets it, when it onboards
    # its merchant; a tenant that happens to be called "synthetic" is never taken for it. One at most.
    synthetic = models.BooleanField(default=False)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["synthetic"], condition=models.Q(synthetic=True), name="merchant_one_synthetic"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.slug
