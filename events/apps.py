from django.apps import AppConfig


class EventsConfig(AppConfig):
    """What merchants' systems are told: refund events and signed outbound webhooks (issue 14, docs/webhooks.md)."""

    name = "events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.metrics import register_database_gauges
        from events import receivers  # noqa: F401 - the writer of events, in the change's own transaction
        from events.metrics import database_gauges

        register_database_gauges("webhooks", database_gauges)
