from django.apps import AppConfig


class CreditsConfig(AppConfig):
    """Store credit (issue 15, docs/instruments.md): codes issued instead of money back, spent at checkout."""

    name = "credits"
    default_auto_field = "django.db.models.BigAutoField"
