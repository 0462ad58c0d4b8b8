"""Hostile input over real HTTP, against gunicorn (issue 10, item 14): what a test client could hide.

The raw bytes go through a socket: `%00` exactly as sent, a body that declares
50 MB and sends 1 KB, a chunked body that never ends. The server must answer
without waiting for the rest of such a body.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client

from refunds.enums import Role
from tests.refunds.factories import UserFactory, api_key, captured_order

pytestmark = [pytest.mark.slow]


def raw_request(url: str, head: str, body: bytes = b"", *, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send `head` (request line and headers) and `body` as they are; return the status and what came back."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)  # a server still waiting for the body times out here
            if not chunk:
                break
            received += chunk
    status = int(received.split(b" ", 2)[1])
    return status, received


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def agent_cookie(transactional_db) -> str:
    return session_cookie(UserFactory(username="http-agent", role=Role.AGENT))


@pytest.mark.parametrize(
    ("path", "status", "json_body"),
    [
        ("/v1/orders/x%00/refunds", 404, True),
        ("/v1/orders/x/refunds?state=%00", 400, True),
        ("/console/refunds/%00/", 404, False),
        ("/console/?q=%00", 400, False),
        ("/r/%00/", 404, False),
        ("/r/token/?x=%00", 400, False),
    ],
)
def test_nul_in_path_or_query_over_http(live_app, agent_cookie, path, status, json_body):
    key = api_key("http-merchant")
    head = (
        f"GET {path} HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer {key}\nCookie: {agent_cookie}\n"
        "Connection: close\n"
    )

    got, received = raw_request(live_app.url, head)

    assert got == status, received[:500]
    assert (b"application/json" in received) is json_body


def upload_head(order_id: str, cookie: str, length_header: str) -> str:
    return (
        f"POST /console/refunds/new/?order={order_id} HTTP/1.1\nHost: 127.0.0.1\nCookie: {cookie}\n"
        f"Content-Type: multipart/form-data; boundary=b0undary\n{length_header}\nConnection: close\n"
    )


def test_an_evidence_upload_declaring_more_than_the_limit_is_refused_before_its_body_arrives(live_app, agent_cookie):
    order = captured_order()
    declared = 50 * 1024 * 1024

    status, received = raw_request(
        live_app.url, upload_head(order.order_id, agent_cookie, f"Content-Length: {declared}"), b"--b0undary\r\n"
    )

    assert status == 400, received[:500]


def test_a_chunked_evidence_upload_is_refused_before_it_ends(live_app, agent_cookie):
    order = captured_order()
    never_ending = b"400\r\n" + b"--b0undary\r\n".ljust(1024, b"0") + b"\r\n"  # one 1 KiB chunk, no last chunk

    status, received = raw_request(
        live_app.url, upload_head(order.order_id, agent_cookie, "Transfer-Encoding: chunked"), never_ending
    )

    assert status == 400, received[:500]
