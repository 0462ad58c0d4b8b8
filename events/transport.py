"""One webhook request on the wire: to the checked address, within a deadline, never following a redirect.

`webhook_post` resolves the endpoint's URL with `events.ssrf.url_resolve` at
each attempt and connects to the very address that was checked (pinned):
the TLS handshake names the URL's host (SNI and certificate check), the
request carries it as `Host`, but no second DNS lookup happens — a name
re-pointed to a private address between the check and the connect (DNS
rebinding) cannot reach inside. A refused URL sends nothing.

The timeout (WEBHOOK_TIMEOUT_SECONDS) is the attempt's whole budget, from
the DNS lookup on: the lookup runs in a worker thread joined with the budget
(a name server that stalls ends the attempt as "timeout resolving <host>";
the stalled lookup finishes on its own, holding no slot), then what is left
of it bounds the connect and each read, and a watchdog closes the socket at
the same total deadline, so a receiver that trickles its answer a byte at a
time still ends the attempt on time. `latency_ms` counts from the lookup.
At most MAX_RESPONSE_BYTES of the answer are read; a 3xx is returned as it
is (the caller records it as a failure) and its Location is never visited.

Whatever the receiver sends is untrusted text bound for PostgreSQL: NUL and
the other control characters are replaced in the excerpt and the error
(`printable`), and any exception of a send — not only the network's — comes
back as a failed attempt (kind `error`), never out of `webhook_post`: an
answer we cannot read must not leave its delivery unrecorded and due again.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
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

from events.ssrf import Target, UnsafeURL, url_parse, url_resolve

logger = logging.getLogger("events.transport")

USER_AGENT = "RefundDesk-Webhooks/1"
# Enough for an excerpt of WEBHOOK_RESPONSE_EXCERPT_CHARS characters of any UTF-8; the rest is never read.
MAX_RESPONSE_BYTES = 16 * 1024
MAX_ERROR_CHARS = 300
# What PostgreSQL text refuses (NUL) and what no excerpt needs: C0/C1 controls but tab and newlines, DEL,
# and lone surrogates (which UTF-8 cannot encode).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class Sent:
    """What one attempt came to. `status` is None when no answer came (refused URL, timeout, connection error)."""

    status: int | None
    latency_ms: int | None
    excerpt: str
    error: str  # "" for a 2xx
    kind: str  # delivered, http_error, redirect, timeout, connection, refused, error

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


def printable(text: str) -> str:
    """`text` with what PostgreSQL cannot store (NUL) and other control characters replaced by U+FFFD."""
    return _UNPRINTABLE.sub("\ufffd", text)


def _cut(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def webhook_post(*, url: str, body: bytes, headers: dict[str, str], timeout: float, excerpt_chars: int) -> Sent:
    """POST `body` to `url` once; never raises: whatever goes wrong is a failed attempt to record."""
    started = time.monotonic()
    try:
        return _post(url=url, body=body, headers=headers, timeout=timeout, excerpt_chars=excerpt_chars, started=started)
    except Exception as error:  # the one place a send's surprise becomes a recorded failure
        logger.warning(
            "webhook send failed unexpectedly",
            exc_info=True,
            extra={"message_id": "MSG.webhook.send_error", "error": _cut(f"{error.__class__.__name__}: {error}")},
        )
        return Sent(None, _since(started), "", _cut(f"error: {error.__class__.__name__}: {error}"), "error")


def _resolve(url: str, *, timeout: float) -> Target | None:
    """`url_resolve` within `timeout` seconds: the Target, None when the lookup outlasts it; raises UnsafeURL.

    getaddrinfo has no timeout of its own: it runs in a daemon thread that is
    left to finish by itself when it outlasts ours (its answer is dropped).
    """
    outcome: list[Target | BaseException] = []

    def lookup() -> None:
        try:
            outcome.append(url_resolve(url))
        except BaseException as error:  # noqa: BLE001 - handed over to the caller's thread
            outcome.append(error)

    worker = threading.Thread(target=lookup, name="webhook-dns", daemon=True)
    worker.start()
    worker.join(max(timeout, 0))
    if not outcome:
        return None
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def _post(
    *, url: str, body: bytes, headers: dict[str, str], timeout: float, excerpt_chars: int, started: float
) -> Sent:
    try:
        host = url_parse(url).host
        target = _resolve(url, timeout=timeout)
    except UnsafeURL as refused:
        return Sent(None, None, "", _cut(f"refused: {refused}"), "refused")
    if target is None:
        return Sent(None, _since(started), "", _cut(f"timeout resolving {host}"), "timeout")
    remaining = timeout - (time.monotonic() - started)
    if remaining <= 0:
        return Sent(None, _since(started), "", _cut(f"timeout resolving {host}"), "timeout")
    address = target.addresses[0]
    request_headers = {
        **headers,
        "Host": _host_header(target.host, target.port, target.scheme),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Content-Length": str(len(body)),
    }
    conn = _connection(target.scheme, address, target.host, target.port, remaining)
    timed_out = threading.Event()

    def _expire() -> None:
        timed_out.set()
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # closed already: the attempt is over
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(remaining, _expire)
    watchdog.daemon = True
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
        latency_ms = _since(started)
        if timed_out.is_set():
            raise TimeoutError
    except (OSError, Urllib3Error, http.client.HTTPException) as error:
        elapsed_ms = _since(started)
        # urllib3's NewConnectionError (refused, unreachable) is a kind of its timeout error: told apart first.
        timeout_error = isinstance(error, TimeoutError | Urllib3Timeout) and not isinstance(error, NewConnectionError)
        if timed_out.is_set() or timeout_error:
            return Sent(None, elapsed_ms, "", f"timeout after {timeout:g}s", "timeout")
        return Sent(None, elapsed_ms, "", _cut(f"connection: {error.__class__.__name__}: {error}"), "connection")
    finally:
        watchdog.cancel()
        conn.close()
    status = response.status
    excerpt = printable(raw.decode("utf-8", errors="replace")[:excerpt_chars])
    if 200 <= status <= 299:
        return Sent(status, latency_ms, excerpt, "", "delivered")
    if 300 <= status <= 399:
        location = response.headers.get("Location", "")
        return Sent(status, latency_ms, excerpt, _cut(f"HTTP {status}: redirect not followed ({location})"), "redirect")
    return Sent(status, latency_ms, excerpt, _cut(f"HTTP {status}"), "http_error")
