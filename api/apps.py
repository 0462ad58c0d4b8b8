from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The merchant JSON API (/v1/) and the provider webhook endpoint."""

    name = "api"
    default_auto_field = "django.db.models.BigAutoField"
