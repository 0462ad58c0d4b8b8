"""The integrations' Celery tasks, imported here so that Celery's autodiscovery of `integrations.tasks` registers them.

Each lives beside what it runs: the weekly digest in `integrations.digest_send`, its Slack
post in `integrations.slack.digest`, interactions in `integrations.slack.decisions`,
ephemeral answers in `integrations.slack.ephemeral`. Task names are wire contracts;
`integrations.slack.<x>` are routed to CELERY_SLACK_QUEUE.
"""

from __future__ import annotations

from integrations.digest_send import send_weekly
from integrations.slack.decisions import process_interaction, sweep_interactions
from integrations.slack.digest import post_digest
from integrations.slack.ephemeral import post_ephemeral

__all__ = ["post_digest", "post_ephemeral", "process_interaction", "send_weekly", "sweep_interactions"]
