from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the desk (issue 16, docs/runbooks.md): the synthetic refund that proves the whole path works."""

    name = "operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.health import register_readiness_check, register_readiness_detail
        from core.metrics import register_database_gauges
        from operations.metrics import database_gauges, partition_gauges
        from operations.readiness import breaker_states, pauses_detail, pauses_public

        register_database_gauges("operations", database_gauges)
        register_database_gauges("partitions", partition_gauges)
        register_readiness_check("providers", breaker_states)
        register_readiness_detail("pauses", pauses_detail, public=pauses_public)
