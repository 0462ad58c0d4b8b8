from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Customer texts and emails, sent when a refund changes (SPEC §8)."""

    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the receivers of refunds.signals (the import is the registration); registers the
        # emails given up as a gauge read from the database at every scrape (core.metrics).
        from core.metrics import register_database_gauges
        from notifications import receivers  # noqa: F401
        from notifications.metrics import database_gauges

        register_database_gauges("notifications", database_gauges)
