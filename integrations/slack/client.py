"""The Slack Web API client: `slack_sdk.WebClient`, configured once from the settings (docs/slack.md)."""

from __future__ import annotations

from django.conf import settings
from slack_sdk import WebClient


def slack_enabled() -> bool:
    """The integration is on when a bot token is configured; without one nothing else changes."""
    return bool(settings.SLACK_BOT_TOKEN)


def slack_client(*, timeout: float | None = None) -> WebClient:
    """A client for `SLACK_API_BASE` (Slack, or the simulator under /api/) with the bot token.

    No retry handlers: the callers are Celery tasks, which reschedule on 429
    (honouring Retry-After) and on 5xx with backoff, so a worker never sleeps
    inside a call while other work waits. `timeout` (seconds) is for the few
    calls made inside Slack's own 3-second answer window (`views.open` with a
    trigger id, a `users.info` of who is tapping): shorter than the default.
    """
    base = settings.SLACK_API_BASE
    if not base.endswith("/"):
        base += "/"
    return WebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=base,
        timeout=max(1.0, settings.SLACK_TIMEOUT_SECONDS if timeout is None else timeout),
        retry_handlers=[],
    )
