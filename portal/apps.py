from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The customer request portal (/request/, issue 15, docs/customer.md): customers ask for a refund themselves."""

    name = "portal"
    default_auto_field = "django.db.models.BigAutoField"
