from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Development-only tools (the provider simulator's command); never installed in production."""

    name = "devtools"
    default_auto_field = "django.db.models.BigAutoField"
