from django.apps import AppConfig

from core.metrics import register_database_gauges


class AuditConfig(AppConfig):
    """The hash-chained, append-only audit trail (SPEC §5)."""

    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Models load only once the registry is ready, hence the import here.
        from audit import access
        from audit.metrics import database_gauges

        register_database_gauges("audit", database_gauges)
        access.connect()
