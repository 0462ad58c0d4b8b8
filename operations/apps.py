from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the desk (issue 16, docs/runbooks.md): the synthetic refund that proves the whole path works."""

    name = "operations"
    default_auto_field = "django.db.models.BigAutoField"
