"""`manage.py run_webhook_receiver --port N [--secret whsec_… ...]`: start the webhook receiver (docs/webhooks.md).

A thin wrapper: the receiver lives in `devtools.webhook_receiver.server` and
runs without Django (`python -m devtools.webhook_receiver.server`). Register
`http://127.0.0.1:N/<any path>` as a webhook endpoint (with
WEBHOOKS_ALLOW_PRIVATE_URLS=1), give it the endpoint's secret, and open
`/_recv/` to see each delivery and whether its signature verified.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from devtools.webhook_receiver import server as receiver


class Command(BaseCommand):
    help = "Run the webhook receiver (records deliveries, checks their signatures, answers as told)."
    # It touches no database and no models: nothing to check first.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        receiver.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            receiver.serve(host=options["host"], port=options["port"], secrets=options["secret"])
        except OSError as exc:
            raise CommandError(f"webhook receiver: {exc}") from exc
