from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Customer texts and emails, sent when a refund changes (SPEC §8)."""

    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the receivers of refunds.signals (the import is the registration).
        from notifications import receivers  # noqa: F401
