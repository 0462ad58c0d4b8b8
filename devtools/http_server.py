"""The HTTP scaffolding the development servers share: the provider and Slack simulators, the webhook receiver.

Each is a separate process (stdlib `http.server`, threads), so the app and its
tests talk to it over real HTTP on loopback. What differs is only how a request
is answered: a server's handler implements `reply`; reading the body, writing
the answer, a client that went away and the one log line per request are here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, urlsplit

MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class Reply:
    """An answer ready for the wire; `log` is appended to the request's log line."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    log: str = ""


class AppHandler(BaseHTTPRequestHandler):
    """A thin HTTP adapter: `reply(url, body)` answers; one log line per request on stderr."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for
    # the client's delayed ACK and every answer took 40 ms longer than its work.
    disable_nagle_algorithm = True
    # The first word of each log line (`sim`, `slack-sim`, `webhook-receiver`).
    log_label = "server"
    server: AppServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def reply(self, url: SplitResult, body: bytes) -> Reply:
        raise NotImplementedError

    def read_body(self) -> bytes:
        """The request body, chunked or with a length, at most MAX_BODY bytes."""
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
        reply = self.reply(url, self.read_body())
        note = self._send(reply)
        ms = (time.monotonic() - started) * 1000
        sys.stderr.write(f"{self.log_label} {self.command} {url.path} {reply.status} {ms:.0f}ms{reply.log}{note}\n")

    def _send(self, reply: Reply) -> str:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return " (client gone)"
        return ""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: `_handle` writes its own line."""


class AppServer(ThreadingHTTPServer):
    daemon_threads = True  # a stalled answer must not block shutdown
    block_on_close = False
    app: Any


class Listening:
    """What a development server offers around its `httpd`: its URL, serving, closing."""

    httpd: AppServer

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        self.httpd.server_close()
