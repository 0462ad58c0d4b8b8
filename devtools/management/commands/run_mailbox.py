"""`manage.py run_mailbox [--dir var/mail] [--port 8792]`: the demo's mailbox page (devtools.mailbox).

A thin wrapper: the mailbox runs without Django (`python -m devtools.mailbox`);
here `--dir` defaults to the EMAIL_FILE_PATH the app writes to.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools import mailbox


class Command(BaseCommand):
    help = "Show the emails the app wrote with the file email backend (the demo's mailbox), newest first."
    # It touches no database and no models: nothing to check first.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        mailbox.add_arguments(parser)
        if getattr(settings, "EMAIL_FILE_PATH", ""):
            parser.set_defaults(dir=Path(settings.EMAIL_FILE_PATH))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            mailbox.serve(directory=options["dir"], host=options["host"], port=options["port"])
        except OSError as exc:
            raise CommandError(f"mailbox: {exc}") from exc
