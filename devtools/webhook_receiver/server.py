"""A webhook receiver for tests and the demo: records every request, answers as it is told.

It is a separate process - stdlib only, plus the `standardwebhooks` library
when secrets are given to check signatures with - so the delivery engine is
exercised over real HTTP on loopback: real timeouts, real redirects, a
receiver that is down. State is in memory; a restart starts empty.
The endpoints are listed in `devtools.webhook_receiver.app`.

Run it with `python -m devtools.webhook_receiver.server --port 8791 [--secret whsec_… ...]`,
or through Django with `manage.py run_webhook_receiver` (same options).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import traceback
from urllib.parse import SplitResult

from devtools.http_server import AppHandler, AppServer, Listening, Reply
from devtools.webhook_receiver.app import Answer, ReceiverApp, Request

__all__ = ["WebhookReceiverServer", "add_arguments", "main", "serve"]


class _Handler(AppHandler):
    """`ReceiverApp` over HTTP: held or delayed answers wait here, in the request's own thread."""

    server_version = "WebhookReceiver/1"
    log_label = "webhook-receiver"

    def reply(self, url: SplitResult, body: bytes) -> Reply:
        request = Request(self.command, url.path, url.query, list(self.headers.items()), body)
        try:
            answer = self.server.app.handle(request)
        except Exception:  # noqa: BLE001 - a receiver bug still answers
            traceback.print_exc(file=sys.stderr)
            answer = Answer(500, b'{"error":"receiver bug"}')
        if answer.hold is not None:
            answer.hold.wait(answer.delay_seconds)
        elif answer.delay_seconds:
            time.sleep(answer.delay_seconds)
        return Reply(answer.status, answer.body, answer.content_type, answer.headers)


class WebhookReceiverServer(Listening):
    """The listening server around the app."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, secrets: list[str] | None = None) -> None:
        self.app = ReceiverApp(secrets=secrets)
        self.httpd = AppServer((host, port), _Handler)
        self.httpd.app = self.app


def serve(*, host: str, port: int, secrets: list[str]) -> None:
    """Run until SIGINT/SIGTERM; prints the listening URL on stdout first (port 0 works)."""
    receiver = WebhookReceiverServer(host=host, port=port, secrets=secrets)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"webhook receiver listening on {receiver.url}", flush=True)
    print(f"  deliveries page: {receiver.url}/_recv/   any other path receives webhooks", flush=True)
    print(f"  signatures checked with {len(secrets)} secret(s) (more: POST /_recv/secrets)", flush=True)
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with `manage.py run_webhook_receiver`."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8791, help="0 picks a free port")
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="WHSEC",
        help="an endpoint secret (whsec_…) to check signatures with, for every path (repeatable)",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point without Django; blocks until interrupted."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    serve(host=args.host, port=args.port, secrets=args.secret)
    return 0


if __name__ == "__main__":
    sys.exit(main())
