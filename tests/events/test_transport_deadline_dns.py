"""Attack: the merchant's own DNS answers slowly; the 10 s deadline of an attempt does not cover the lookup.

`events.transport.webhook_post` resolves the host (`events.ssrf.url_resolve`, a blocking
`socket.getaddrinfo` with no timeout of ours) BEFORE it starts its watchdog and its latency clock.
A merchant whose authoritative name server stalls (each query waits out the resolver's
timeout × attempts × name servers) holds the webhook worker's slot far longer than
WEBHOOK_TIMEOUT_SECONDS on every attempt, and the attempt is recorded as a quick success.
The slow resolver is simulated by wrapping the real getaddrinfo with a stall (the network
call itself is real: a loopback receiver).

The fix: the lookup runs in a worker thread joined with the attempt's budget, and counts in latency_ms.
"""

from __future__ import annotations

import socket
import threading

from events import ssrf
from events.transport import webhook_post
from tests.support.raw_http_server import RawServer


def test_a_lookup_slower_than_the_timeout_ends_the_attempt_as_a_timeout(settings, monkeypatch) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    stalled = threading.Event()
    real = socket.getaddrinfo

    def slow_dns(host, *args, **kwargs):
        if host == "localhost":  # the merchant's name; the pinned address is looked up at once
            stalled.wait(1.5)  # the name server answers after 1.5 s; the attempt's budget is 0.5 s
        return real(host, *args, **kwargs)

    monkeypatch.setattr(ssrf.socket, "getaddrinfo", slow_dns)
    with RawServer(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n") as server:
        sent = webhook_post(
            url=server.url().replace("127.0.0.1", "localhost"),
            body=b"{}",
            headers={},
            timeout=0.5,
            excerpt_chars=100,
        )
    assert sent.kind == "timeout", sent
    assert sent.error == "timeout resolving localhost"
    assert sent.latency_ms is not None and sent.latency_ms >= 500
    assert server.requests == []
    stalled.set()


def test_the_lookup_counts_in_the_latency_of_an_attempt_that_gets_through(settings, monkeypatch) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    real = socket.getaddrinfo
    slow = threading.Event()

    def slow_dns(host, *args, **kwargs):
        if host == "localhost":
            slow.wait(0.3)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(ssrf.socket, "getaddrinfo", slow_dns)
    with RawServer(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n") as server:
        sent = webhook_post(
            url=server.url().replace("127.0.0.1", "localhost"), body=b"{}", headers={}, timeout=5, excerpt_chars=100
        )
    assert sent.kind == "delivered", sent
    assert sent.latency_ms >= 300
