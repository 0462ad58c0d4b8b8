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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from devtools.webhook_receiver.app import Answer, ReceiverApp, Request

__all__ = ["WebhookReceiverServer", "add_arguments", "main", "serve"]

MAX_BODY = 10 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP adapter around `ReceiverApp`; logs one line per request."""

    protocol_version = "HTTP/1.1"
    server_version = "WebhookReceiver/1"
    disable_nagle_algorithm = True  # headers and body go out in two writes (see the provider simulator)
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        try:
            body = self._read_body()
            request = Request(self.command, url.path, url.query, list(self.headers.items()), body)
            answer = self.server.app.handle(request)
        except Exception:  # noqa: BLE001 - a receiver bug still answers
            traceback.print_exc(file=sys.stderr)
            answer = Answer(500, b'{"error":"receiver bug"}')
        if answer.hold is not None:
            answer.hold.wait(answer.delay_seconds)
        elif answer.delay_seconds:
            time.sleep(answer.delay_seconds)
        note = self._send(answer)
        ms = (time.monotonic() - started) * 1000
        sys.stderr.write(f"webhook-receiver {self.command} {url.path} {answer.status} {ms:.0f}ms{note}\n")

    def _send(self, answer: Answer) -> str:
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return " (client gone)"
        return ""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: `_handle` writes its own line."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    app: ReceiverApp


class WebhookReceiverServer:
    """The listening server around the app."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, secrets: list[str] | None = None) -> None:
        self.app = ReceiverApp(secrets=secrets)
        self.httpd = _Server((host, port), _Handler)
        self.httpd.app = self.app

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        self.httpd.server_close()


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
