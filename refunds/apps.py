from django.apps import AppConfig


class RefundsConfig(AppConfig):
    """The refund domain: orders, payments, policy, the state machine, the outbox."""

    name = "refunds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.metrics import register_database_gauges
        from refunds.metrics import database_gauges

        register_database_gauges("refunds", database_gauges)
