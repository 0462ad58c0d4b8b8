"""One webhook request on the wire: to the checked address, within a deadline, never following a redirect.

`webhook_post` resolves the endpoint's URL with `events.ssrf.url_resolve` at
each attempt and connects to the very address that was checked (pinned):
the TLS handshake names the URL's host (SNI and certificate check), the
request carries it as `Host`, but no second DNS lookup happens — a name
re-pointed to a private address between the check and the connect (DNS
rebinding) cannot reach inside. A refused URL sends nothing.

The timeout (WEBHOOK_TIMEOUT_SECONDS) bounds the connect and each read, and
a watchdog closes the socket at the same total deadline, so a receiver that
trickles its answer a byte at a time still ends the attempt on time. At most
MAX_RESPONSE_BYTES of the answer are read; a 3xx is returned as it is (the
caller records it as a failure) and its Location is never visited.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

import certifi
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from events.ssrf import UnsafeURL, url_resolve

USER_AGENT = "RefundDesk-Webhooks/1"
# Enough for an excerpt of WEBHOOK_RESPONSE_EXCERPT_CHARS characters of any UTF-8; the rest is never read.
MAX_RESPONSE_BYTES = 16 * 1024


@dataclass(frozen=True)
class Sent:
    """What one attempt came to. `status` is None when no answer came (refused URL, timeout, connection error)."""

    status: int | None
    latency_ms: int | None
    excerpt: str
    error: str  # "" for a 2xx
    kind: str  # delivered, http_error, redirect, timeout, connection, refused

    @property
    def succeeded(self) -> bool:
        return self.kind == "delivered"


def _host_header(host: str, port: int, scheme: str) -> str:
    default = 443 if scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    return shown if port == default else f"{shown}:{port}"


def _connection(scheme: str, address: str, host: str, port: int, timeout: float) -> HTTPConnection:
    """A connection to `address` (already checked) that speaks to `host` in TLS."""
    if scheme == "https":
        context = ssl.create_default_context(cafile=certifi.where())
        return HTTPSConnection(
            address,
            port,
            timeout=timeout,
            ssl_context=context,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
        )
    return HTTPConnection(address, port, timeout=timeout)


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def webhook_post(*, url: str, body: bytes, headers: dict[str, str], timeout: float, excerpt_chars: int) -> Sent:
    """POST `body` to `url` once; never raises for anything the network or the receiver does."""
    try:
        target = url_resolve(url)
    except UnsafeURL as refused:
        return Sent(None, None, "", _cut(f"refused: {refused}"), "refused")
    address = target.addresses[0]
    request_headers = {
        **headers,
        "Host": _host_header(target.host, target.port, target.scheme),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Content-Length": str(len(body)),
    }
    conn = _connection(target.scheme, address, target.host, target.port, timeout)
    timed_out = threading.Event()

    def _expire() -> None:
        timed_out.set()
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # closed already: the attempt is over
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, _expire)
    watchdog.daemon = True
    started = time.monotonic()
    watchdog.start()
    try:
        conn.request("POST", target.path, body=body, headers=request_headers, preload_content=False)
        response = conn.getresponse()
        raw = b""
        while len(raw) < MAX_RESPONSE_BYTES:
            chunk = response.read(min(4096, MAX_RESPONSE_BYTES - len(raw)), decode_content=False)
            if not chunk:
                break
            raw += chunk
        latency_ms = int((time.monotonic() - started) * 1000)
        if timed_out.is_set():
            raise TimeoutError
    except (OSError, Urllib3Error, http.client.HTTPException) as error:
        elapsed_ms = int((time.monotonic() - started) * 1000)
        # urllib3's NewConnectionError (refused, unreachable) is a kind of its timeout error: told apart first.
        timeout_error = isinstance(error, TimeoutError | Urllib3Timeout) and not isinstance(error, NewConnectionError)
        if timed_out.is_set() or timeout_error:
            return Sent(None, elapsed_ms, "", f"timeout after {timeout:g}s", "timeout")
        return Sent(None, elapsed_ms, "", _cut(f"connection: {error.__class__.__name__}: {error}"), "connection")
    finally:
        watchdog.cancel()
        conn.close()
    status = response.status
    excerpt = raw.decode("utf-8", errors="replace")[:excerpt_chars]
    if 200 <= status <= 299:
        return Sent(status, latency_ms, excerpt, "", "delivered")
    if 300 <= status <= 399:
        location = response.headers.get("Location", "")
        return Sent(status, latency_ms, excerpt, _cut(f"HTTP {status}: redirect not followed ({location})"), "redirect")
    return Sent(status, latency_ms, excerpt, f"HTTP {status}", "http_error")
