from django.apps import AppConfig

from core.metrics import register_database_gauges


class IntegrationsConfig(AppConfig):
    """Where the team already works: the Slack approval card and the weekly digest (issue 13, docs/slack.md)."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Receivers of the refund signals: the card follows every change of its refund
        # (importing them registers the card's Celery tasks too, integrations.slack.sync).
        from integrations.slack import receivers  # noqa: F401
        from integrations.slack.metrics import database_gauges

        register_database_gauges("slack_cards", database_gauges)
