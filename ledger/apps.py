from django.apps import AppConfig

from core.metrics import register_database_gauges


class LedgerConfig(AppConfig):
    name = "ledger"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Models load only once the registry is ready, hence the import here.
        from ledger.metrics import database_gauges

        register_database_gauges("ledger", database_gauges)
