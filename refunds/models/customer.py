from django.db import models


class Customer(models.Model):
    """The merchant's customer, as far as refunds need one: who to tell, in which language."""

    external_id = models.CharField(max_length=100, unique=True)
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    locale = models.CharField(max_length=10, default="en")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.external_id

    @property
    def masked_email(self) -> str:
        """'j•••@example.com': enough to recognise one's own address, shown on the status page.

        Always three dots, whatever the length: a count would tell anyone holding
        the link how long the hidden part of the address is.
        """
        local, _, domain = self.email.partition("@")
        if not domain:
            return ""
        return f"{local[:1]}•••@{domain}"
