from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The hash-chained, append-only audit trail (SPEC §5)."""

    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit.metrics import database_gauges
        from core.metrics import register_database_gauges

        register_database_gauges("audit", database_gauges)
