"""The integration's Celery tasks, imported here so that Celery's autodiscovery of `integrations.tasks` registers them.

Each lives beside what it runs: the weekly digest in `integrations.digest_send`,
its Slack post in `integrations.slack.digest`.
"""

from __future__ import annotations

from integrations.digest_send import send_weekly
from integrations.slack.digest import post_digest

__all__ = ["post_digest", "send_weekly"]
