"""`manage.py run_slack_sim --port N --interactions-url URL`: start the Slack simulator (docs/slack.md).

A thin wrapper: the simulator lives in `devtools.slack_sim.server` and runs
without Django (`python -m devtools.slack_sim.server`); this command only
fills the defaults from settings - the signing secret the app verifies with,
the bot token it sends, the port of `SLACK_API_BASE` when that points here -
and prints the URLs to open.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.slack_sim import server as simulator

DEFAULT_INTERACTIONS_URL = "http://127.0.0.1:8000/integrations/slack/interactions"


class Command(BaseCommand):
    help = "Run the Slack simulator (Web API subset, signed interactions, a channel page)."
    # It touches no database and no models: nothing to check first.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        simulator.add_arguments(parser)
        api_base = urlsplit(getattr(settings, "SLACK_API_BASE", ""))
        local = api_base.hostname in ("127.0.0.1", "localhost")
        parser.set_defaults(port=(api_base.port if local else None) or 8790, interactions_url=DEFAULT_INTERACTIONS_URL)

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = argparse.Namespace(**options)
        config = simulator.config_from_args(
            namespace,
            default_secret=getattr(settings, "SLACK_SIGNING_SECRET", "") or None,
            default_token=getattr(settings, "SLACK_BOT_TOKEN", "") or None,
        )
        try:
            simulator.serve(config)
        except (OSError, ValueError) as exc:
            raise CommandError(f"slack simulator: {exc}") from exc
