from django.apps import AppConfig

from core.metrics import register_database_gauges


class ReconciliationConfig(AppConfig):
    """Daily reconciliation of the provider's refunds against ours (SPEC §7)."""

    name = "reconciliation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Models load only once the registry is ready, hence the import here.
        from reconciliation.metrics import database_gauges

        register_database_gauges("reconciliation", database_gauges)
