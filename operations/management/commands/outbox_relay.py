"""Run the outbox relay (operations.relay) until SIGTERM or SIGINT; `--once` runs one pass and exits."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from core.handoff import relay_mode
from operations.relay import OutboxRelay

logger = logging.getLogger("operations.relay")


class Command(BaseCommand):
    help = (
        "Queue the Celery tasks of committed outbox rows (provider calls, customer emails, webhook deliveries): "
        "woken by NOTIFY, or every OUTBOX_RELAY_POLL_SECONDS. For OUTBOX_HANDOFF=relay; beat's sweeps stay on."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--poll-seconds", type=float, default=None, help="longest wait between passes (OUTBOX_RELAY_POLL_SECONDS)"
        )
        parser.add_argument("--once", action="store_true", help="one pass, then exit (no LISTEN)")
        parser.add_argument(
            "--ready-file",
            type=Path,
            default=None,
            help="written once the relay listens and has made its first pass (a readiness probe)",
        )

    def handle(self, *args, poll_seconds: float | None, once: bool, ready_file: Path | None, **options) -> None:
        if not relay_mode():
            # Harmless (it queues what the sweeps would), but the requests still publish: say so.
            logger.warning(
                "outbox relay running with OUTBOX_HANDOFF=publish",
                extra={"message_id": "MSG.relay.publish_mode", "handoff": settings.OUTBOX_HANDOFF},
            )
        stop = threading.Event()
        on_ready = (lambda: ready_file.write_text("ready\n")) if ready_file else None
        relay = OutboxRelay(poll_seconds=poll_seconds, stop=stop, on_ready=on_ready)
        if once:
            result = relay.run_pass()
            self.stdout.write(f"queued {result.queued if result else 'nothing (pass failed)'}")
            return

        def stop_after_pass(signum: int, frame: object) -> None:
            stop.set()  # the loop finishes the pass under way, then exits 0

        signal.signal(signal.SIGTERM, stop_after_pass)
        signal.signal(signal.SIGINT, stop_after_pass)
        relay.run()
