"""Hostile input over real HTTP, against gunicorn (issue 10, item 14; issue 11, item 7): what a test client could hide.

The raw bytes go through a socket: `%00` exactly as sent, a body that declares
50 MB and sends 1 KB, a chunked body that never ends. The server must answer
without waiting for the rest of such a body.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client

from core.errors import (
    CATALOG,
    ERR_AUTHN_REQUIRED,
    ERR_BODY_TOO_LARGE,
    ERR_CONFLICT_ORDER,
    ERR_HEADERS_TOO_LARGE,
    ERR_URI_TOO_LONG,
    ERR_VALIDATION,
)
from providers.stripe.signature import sign_payload
from refunds.enums import Role
from refunds.models import Order, Payment, Refund, WebhookEvent
from tests.api.test_refunds import ORDER
from tests.refunds.factories import UserFactory, api_key, captured_order
from tests.support.routes import routes
from tests.support.stripe_events import refund_event_body

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


def assert_error_json(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["code"] == code


def test_the_crashes_of_issue_11_are_client_errors_through_gunicorn(live_app, transactional_db):
    """One pass over item 7 through the real server: each answer is the error JSON, nothing is stored."""
    key = api_key("http-merchant")
    api = requests.Session()
    api.headers.update({"Authorization": f"Bearer {key}", "Idempotency-Key": "k-live"})
    url = live_app.url
    assert api.post(f"{url}/v1/orders", json=ORDER, timeout=30).status_code == 201

    # NUL in every id of every API path, as the bytes arrive (raw socket: no client normalises them).
    for route in (r for r in routes("v1/", "webhooks/") if r.parameters):
        path = route.path(dict.fromkeys(route.parameters, "x%00"))
        for method in sorted(route.methods):
            head = (
                f"{method.upper()} {path} HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer {key}\nConnection: close\n"
            )
            status, received = raw_request(url, head)
            assert status == 404, (method, path, received[:300])
            assert b"Content-Type: application/json" in received

    # A body nested 5,000 levels deep, to every POST endpoint that reads one.
    nested = "[" * 5000 + "1" + "]" * 5000
    bodiless = {"api:refund-submit", "api:webhook-endpoint-rotate-secret", "api:order-request-links"}
    for route in (r for r in routes("v1/") if "post" in r.methods and r.name not in bodiless):
        path = route.path(
            {"order_id": "A-1", "refund_id": "rf_unknown", "event_id": "evt_unknown", "code": "SC-2222-3333-4444"}
        )
        response = api.post(url + path, data=nested, headers={"Content-Type": "application/json"}, timeout=30)
        assert_error_json(response, 400, ERR_VALIDATION)

    # Amounts no bigint holds, or that are no integer at all.
    for raw in (str(2**63), str(2**63 - 1), str(-(2**63)), "1e400", '"1e3"', "true"):
        order = copy.deepcopy(ORDER)
        order.update(order_id="A-amount")
        order["payment"].update(provider_payment_id="pi_amount", amount_minor="__AMOUNT__")
        body = json.dumps(order).replace('"__AMOUNT__"', raw)
        response = api.post(f"{url}/v1/orders", data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert_error_json(response, 400, ERR_VALIDATION)

    # Signed webhooks with a hostile envelope, to both webhook endpoints.
    hostile = [
        {**refund_event_body(event_id="evt_list"), "data": {"object": [refund_event_body()["data"]["object"]]}},
        refund_event_body(event_id="evt_meta", metadata="rf_1"),
        refund_event_body(event_id="evt_\u0000"),
    ]
    for route in routes("webhooks/"):
        for event in hostile:
            payload = json.dumps(event).encode()
            response = requests.post(
                url + route.path({"provider": "stripe"}),
                data=payload,
                headers={
                    "Content-Type": "application/json",
                    "Stripe-Signature": sign_payload(payload, django_settings.PROVIDER_WEBHOOK_SECRET),
                },
                timeout=30,
            )
            assert_error_json(response, 400, "ERR.WEBHOOK.rejected")

    assert list(Order.objects.values_list("order_id", flat=True)) == ["A-1"]
    assert not WebhookEvent.objects.exists()


def test_orders_racing_for_one_payment_id_through_gunicorn_are_201_and_409(live_app, transactional_db):
    key = api_key("http-merchant")
    pairs = 6
    barrier = threading.Barrier(pairs * 2, timeout=60)
    answers: dict[str, requests.Response] = {}

    def push(order_id: str, payment_id: str) -> None:
        order = copy.deepcopy(ORDER)
        order.update(order_id=order_id, customer={**order["customer"], "id": f"c-{order_id}"})
        order["payment"]["provider_payment_id"] = payment_id
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {key}"
            barrier.wait()
            answers[order_id] = session.post(f"{live_app.url}/v1/orders", json=order, timeout=60)

    threads = [
        threading.Thread(target=push, args=(f"A-{pair}-{side}", f"pi_race_{pair}"))
        for pair in range(pairs)
        for side in "ab"
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    for pair in range(pairs):
        a, b = answers[f"A-{pair}-a"], answers[f"A-{pair}-b"]
        assert sorted([a.status_code, b.status_code]) == [201, 409], (a.text[:200], b.text[:200])
        assert_error_json(a if a.status_code == 409 else b, 409, ERR_CONFLICT_ORDER)
        assert Order.objects.filter(order_id__startswith=f"A-{pair}-").count() == 1
    assert Payment.objects.count() == pairs


# --- what gunicorn and Django refuse before a view: still the error JSON under /v1/ (issue 11, item 8) ---


def exchange_whole(url: str, request: bytes, *, timeout: float = 30.0) -> bytes:
    """Send the whole request first (as most HTTP clients do), then read the answer to the end.

    A server that answers early and closes with the request half-read resets
    the connection: `sendall` or `recv` then raises, and the test fails there.
    """
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def error_json(received: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return int(lines[0].split(" ", 2)[1]), headers, json.loads(body)


def dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


def assert_error_shape(status: int, headers: dict[str, str], body: dict, code: str) -> None:
    assert status == CATALOG[code][0], (status, body)
    assert headers["content-type"].startswith("application/json")
    assert body["code"] == code
    assert body["message_id"] == CATALOG[code][1] and body["message"]
    assert body["correlation_id"] == headers["x-correlation-id"]


def test_a_ten_megabyte_body_sent_whole_gets_the_json_413_not_a_reset(transactional_db, live_app):
    key = api_key("http-big-body")
    order = captured_order()
    body = b'{"note": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    head = (
        f"POST /v1/orders/{order.order_id}/refunds HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Idempotency-Key: big\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )

    status, headers, answer = error_json(exchange_whole(live_app.url, head.encode() + body))

    assert_error_shape(status, headers, answer, ERR_BODY_TOO_LARGE)
    assert not Refund.objects.exists()


def test_a_ten_megabyte_webhook_through_an_http_library_gets_the_json_413(transactional_db, live_app):
    response = requests.post(
        f"{live_app.url}/webhooks/payments",
        data=b"{" + b" " * (10 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert_error_shape(response.status_code, dict(response.headers.lower_items()), response.json(), ERR_BODY_TOO_LARGE)


@pytest.mark.parametrize("path", ["/v1/refunds/", "/webhooks/payments/", "/console/"])
def test_a_ten_thousand_character_path_gets_the_json_414(transactional_db, live_app, path):
    request = f"GET {path}{'a' * 10_000} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n"

    status, headers, answer = error_json(exchange_whole(live_app.url, request.encode()))

    assert_error_shape(status, headers, answer, ERR_URI_TOO_LONG)


def test_a_path_under_the_request_line_limit_reaches_the_app(transactional_db, live_app):
    request = f"GET /v1/refunds/{'a' * 4000} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    status, headers, answer = error_json(exchange_whole(live_app.url, request.encode()))

    assert_error_shape(status, headers, answer, ERR_AUTHN_REQUIRED)  # Django answered: no key sent


def test_too_many_headers_get_the_json_431(transactional_db, live_app):
    many = "".join(f"X-Filler-{n}: {n}\r\n" for n in range(150))
    request = f"GET /v1/refunds/rf_x HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}\r\n"

    status, headers, answer = error_json(exchange_whole(live_app.url, request.encode()))

    assert_error_shape(status, headers, answer, ERR_HEADERS_TOO_LARGE)
