from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The staff screens: agents, seniors, finance and risk (one chrome), and the Django admin."""

    name = "console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import signals  # noqa: F401  (connects the sign-in log lines)
