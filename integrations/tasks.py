"""Celery tasks of the integrations, registered wherever Celery autodiscovers `integrations.tasks`.

They live beside what they run; task names (`integrations.slack.<x>`) are wire contracts,
routed to CELERY_SLACK_QUEUE.
"""

from __future__ import annotations

from integrations.slack.decisions import process_interaction, sweep_interactions
from integrations.slack.ephemeral import post_ephemeral

__all__ = ["post_ephemeral", "process_interaction", "sweep_interactions"]
