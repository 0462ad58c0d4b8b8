from django.apps import AppConfig

from core.metrics import register_database_gauges


class RefundsConfig(AppConfig):
    """The refund domain: orders, payments, policy, the state machine, the outbox."""

    name = "refunds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Models load only once the registry is ready, hence the import here.
        from refunds.metrics import database_gauges

        register_database_gauges("refunds", database_gauges)

        # The kill switches in force (issue 16).
        from refunds.pause_metrics import database_gauges as pause_gauges

        register_database_gauges("refund_pauses", pause_gauges)

        # The providers' circuit breakers: shared state in Redis, read at scrape time like the database gauges.
        from providers.breaker import breaker_gauges

        register_database_gauges("provider_breakers", breaker_gauges)
