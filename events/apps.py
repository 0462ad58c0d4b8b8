from django.apps import AppConfig


class EventsConfig(AppConfig):
    """What merchants' systems are told: refund events and signed outbound webhooks (issue 14, docs/webhooks.md)."""

    name = "events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The writer of events: receivers of the refund signals, in the change's own transaction.
        from events import receivers  # noqa: F401
