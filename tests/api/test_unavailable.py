"""The database down: machine clients get 503 ERR.UNAVAILABLE with Retry-After, not 500 (issue 11, item 2).

A real gunicorn whose DATABASE_URL names a port where no PostgreSQL listens:
every request that needs the database fails in psycopg's connect, the way it
does during a PostgreSQL restart. The merchant (and the provider posting a
webhook) must learn that this is an outage worth retrying, not a bug.
"""

from __future__ import annotations

import pytest
import requests

from core.errors import ERR_UNAVAILABLE
from tests.support.live import GunicornServer, app_env, free_port, new_namespace
from tests.support.stripe_events import ENDPOINT, SECRET, refund_event, signed_headers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def web_without_database():
    env = app_env(
        namespace=new_namespace("nodb"),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/refund_desk",
        PROVIDER="stripe",
        PROVIDER_WEBHOOK_SECRET=SECRET,
    )
    server = GunicornServer(env=env, workers=1)
    server.start()  # /healthz needs no database
    yield server
    server.stop()


def webhook() -> tuple[bytes, dict[str, str]]:
    payload = refund_event()
    return payload, signed_headers(payload)


@pytest.mark.parametrize(
    ("method", "path", "request_"),
    [
        ("GET", "/v1/refunds/rf_anything", lambda: (None, {})),
        ("POST", "/v1/orders/O-1/refunds", lambda: (b'{"amount_minor": 100}', {"Idempotency-Key": "k-1"})),
        ("POST", ENDPOINT, webhook),  # signed: it gets as far as storing the event
    ],
)
def test_a_request_that_needs_the_database_answers_503_unavailable_with_retry_after(
    web_without_database, method, path, request_
):
    data, headers = request_()
    response = requests.request(
        method,
        web_without_database.url + path,
        data=data,
        headers={"Authorization": "Bearer rk_test_anything", "Content-Type": "application/json", **headers},
        timeout=30,
    )
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == ERR_UNAVAILABLE
    assert body["message_id"] == "request.unavailable"
    assert body["correlation_id"] == response.headers["X-Correlation-Id"]


def test_a_console_page_answers_503_with_retry_after(web_without_database):
    # A signed-in person's session is read from the database on every page.
    response = requests.get(
        web_without_database.url + "/console/", cookies={"sessionid": "s" * 32}, timeout=30, allow_redirects=False
    )
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Content-Type"].startswith("text/html")
