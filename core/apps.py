from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel has no models; it is an app for its deploy checks (`manage.py check --deploy`)."""

    name = "core"
    label = "core"

    def ready(self) -> None:
        from core import checks  # noqa: F401 - registers the checks
