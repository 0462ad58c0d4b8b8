from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Where the team already works: the Slack approval card and the weekly digest (issue 13, docs/slack.md)."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Receivers of the refund signals: the card follows every change of its refund.
        from integrations.slack import receivers  # noqa: F401
