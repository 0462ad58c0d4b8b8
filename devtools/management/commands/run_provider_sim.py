"""`manage.py run_provider_sim --port N`: start the provider simulator (SPEC §6).

A thin wrapper: the simulator itself lives in `devtools.stripe_sim.server`
and runs without Django (`python -m devtools.stripe_sim.server`); this command
only fills the defaults from settings - the webhook secret the app verifies
with, the port of `PROVIDER_API_BASE` and a state file under `VAR_DIR`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.stripe_sim import server as simulator

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/payments"


class Command(BaseCommand):
    help = "Run the Stripe-protocol provider simulator (separate HTTP server)."
    # It touches no database and no models: nothing to check first.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        simulator.add_arguments(parser)
        api_port = urlsplit(getattr(settings, "PROVIDER_API_BASE", "")).port
        var_dir = Path(getattr(settings, "VAR_DIR", settings.BASE_DIR))
        parser.set_defaults(
            port=api_port or 8765,
            db=str(var_dir / "provider_sim.sqlite3"),
            webhook_url=getattr(settings, "PROVIDER_SIM_WEBHOOK_URL", DEFAULT_WEBHOOK_URL),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = argparse.Namespace(**options)
        Path(namespace.db).parent.mkdir(parents=True, exist_ok=True)
        secret = getattr(settings, "PROVIDER_WEBHOOK_SECRET", None)
        config = simulator.config_from_args(namespace, default_secret=secret)
        try:
            simulator.serve(config)
        except (OSError, ValueError) as exc:
            raise CommandError(f"provider simulator: {exc}") from exc
