from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The merchant JSON API (/v1/) and the provider webhook endpoint."""

    name = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the schema extension describing our API keys (the import is the registration).
        from api import schema  # noqa: F401
