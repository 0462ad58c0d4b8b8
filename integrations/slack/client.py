"""The Slack Web API client: `slack_sdk.WebClient`, configured once from the settings (docs/slack.md)."""

from __future__ import annotations

import time

from django.conf import settings
from slack_sdk import WebClient

# Slack waits 3 seconds for the answer to a click or a submission. Every Slack call made while it
# waits (auth.test, users.info, views.open) shares this one budget: each call's timeout is what is
# left of it, so their sum never passes it, and what remains covers our own work and the network.
IN_REQUEST_BUDGET_SECONDS = 2.5
# Below this much time left, a call is not made at all: it could not finish, and Slack would see a late answer.
MIN_CALL_SECONDS = 0.1


class Deadline:
    """When the answer to Slack must be on its way: one budget shared by the request's Slack calls."""

    def __init__(self, seconds: float = IN_REQUEST_BUDGET_SECONDS) -> None:
        self.ends = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left of the budget (0 when spent)."""
        return max(0.0, self.ends - time.monotonic())

    def expired(self) -> bool:
        return self.left() < MIN_CALL_SECONDS


def slack_enabled() -> bool:
    """The integration is on when a bot token is configured; without one nothing else changes."""
    return bool(settings.SLACK_BOT_TOKEN)


def slack_client(*, timeout: float | None = None, deadline: Deadline | None = None) -> WebClient:
    """A client for `SLACK_API_BASE` (Slack, or the simulator under /api/) with the bot token.

    No retry handlers: the callers are Celery tasks, which reschedule on 429
    (honouring Retry-After) and on 5xx with backoff, so a worker never sleeps
    inside a call while other work waits. `deadline` is for the few calls
    made inside Slack's own 3-second answer window (`views.open` with a
    trigger id, `auth.test` and `users.info` of who is tapping): the call's
    timeout is what is left of the request's budget (the caller checks
    `deadline.expired()` first). `timeout` (seconds) overrides the default otherwise.
    """
    if deadline is not None:
        seconds = max(MIN_CALL_SECONDS, deadline.left())
    else:
        seconds = max(1.0, settings.SLACK_TIMEOUT_SECONDS if timeout is None else timeout)
    base = settings.SLACK_API_BASE
    if not base.endswith("/"):
        base += "/"
    return WebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=base,
        timeout=seconds,
        retry_handlers=[],
    )
