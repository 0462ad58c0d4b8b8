from django.apps import AppConfig


class StatusPageConfig(AppConfig):
    """The customer's refund status page, /r/<token>/ (SPEC §8)."""

    name = "status_page"
    default_auto_field = "django.db.models.BigAutoField"
