"""Every answer under /v1/ and /webhooks/ that is not a success is the error JSON (issue 11, item 8).

`{code, message_id, message, correlation_id}` with the status of its code
(core/errors.py): an unknown path, a method the path does not take, a body
too large, an Idempotency-Key that is there but unusable, a crash. Over real
HTTP (what gunicorn answers itself) see tests/core/test_hostile_input_over_http.py.
"""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from core.errors import (
    CATALOG,
    ERR_BODY_TOO_LARGE,
    ERR_IDEMPOTENCY_KEY_INVALID,
    ERR_IDEMPOTENCY_KEY_MISSING,
    ERR_INTERNAL,
    ERR_METHOD_NOT_ALLOWED,
    ERR_NOT_FOUND,
    ERR_VALIDATION,
)
from refunds.models import Refund
from tests.api.conftest import create
from tests.refunds.factories import api_key, captured_order
from tests.support.customer_states import refund_in_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant() -> APIClient:
    # A crash must come back as an answer (the 500 page), not as the exception.
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('json-everywhere')}")
    return client


def assert_error_json(response, code: str) -> None:
    status = CATALOG[code][0]
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    if response.request["REQUEST_METHOD"] == "HEAD":
        return  # no body by definition; the type still says JSON
    body = response.json()
    assert body["code"] == code
    assert body["message_id"] == CATALOG[code][1]
    assert body["message"]
    assert body["correlation_id"] == response["X-Correlation-Id"]


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options", "head"])
@pytest.mark.parametrize("path", ["/v1/nothing-here", "/v1/orders/x/refunds/y", "/webhooks/nothing", "/webhooks/"])
def test_an_unknown_path_is_a_json_404_whatever_the_method(merchant, method, path):
    assert_error_json(getattr(merchant, method)(path), ERR_NOT_FOUND)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/orders"),
        ("put", "/v1/orders"),
        ("delete", "/v1/orders"),
        ("head", "/v1/orders"),
        ("patch", "/v1/refunds/rf_x"),
        ("delete", "/v1/orders/x/refunds"),
        ("get", "/v1/refunds/rf_x/decision"),
        ("get", "/webhooks/payments"),
        ("put", "/webhooks/payments/stripe"),
        ("delete", "/webhooks/payments"),
        ("options", "/webhooks/payments"),
        ("head", "/webhooks/payments"),
    ],
)
def test_a_method_the_path_does_not_take_is_a_json_405_naming_the_allowed_ones(merchant, method, path):
    response = getattr(merchant, method)(path)
    assert_error_json(response, ERR_METHOD_NOT_ALLOWED)
    assert "POST" in response["Allow"] or "GET" in response["Allow"]


# --- no URL pattern at all, trailing slashes, HEAD and OPTIONS, DEBUG on and off (issue 12, item 14)

# Paths no URL pattern matches: the bare prefixes, a trailing slash on a real path (APPEND_SLASH
# only ever adds one, and our paths have none), an unknown tail under the docs and the schema.
NO_PATTERN = [
    "/v1",
    "/webhooks",
    "/v1/",
    "/v1/orders/",
    "/v1/orders/x/refunds/",
    "/v1/refunds/rf_x/",
    "/v1/refunds/rf_x/decision/",
    "/v1/refunds/rf_x/submit/",
    "/v1/refunds/rf_x/payout/",
    "/v1/schema/",
    "/v1/docs/",
    "/v1/docs/nothing",
    "/webhooks/payments/",
    "/webhooks/payments/stripe/",
]


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("method", ["get", "post", "put", "delete", "options", "head"])
@pytest.mark.parametrize("path", NO_PATTERN)
def test_a_path_no_url_pattern_matches_is_a_json_404(merchant, settings, debug, method, path):
    # With DEBUG on, Django answers its technical 404 page instead of handler404.
    settings.DEBUG = debug
    assert_error_json(getattr(merchant, method)(path), ERR_NOT_FOUND)


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/v1/refunds/rf_x/submit", "POST"),
        ("put", "/v1/refunds/rf_x/payout", "POST"),
        ("delete", "/v1/refunds/rf_x/cancel", "POST"),
        ("head", "/v1/orders/x/refunds", "GET"),
        ("post", "/v1/schema", "GET"),
        ("delete", "/v1/schema", "GET"),
        ("post", "/v1/docs", "GET"),
        ("put", "/v1/docs", "GET"),
    ],
)
def test_a_wrong_method_is_a_json_405_with_allow_whatever_debug(merchant, settings, debug, method, path, allowed):
    settings.DEBUG = debug
    response = getattr(merchant, method)(path)
    if method == "head" and allowed == "GET":
        # HEAD is GET without the body: an unknown order is the 404 a GET answers.
        assert_error_json(response, ERR_NOT_FOUND)
        return
    assert_error_json(response, ERR_METHOD_NOT_ALLOWED)
    assert allowed in [m.strip() for m in response["Allow"].split(",")]


def test_head_of_a_readable_refund_is_its_get_without_a_body(merchant):
    refund = refund_in_state("requested", locale="en")
    response = merchant.head(f"/v1/refunds/{refund.public_id}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.content == b""


@pytest.mark.parametrize("path", ["/v1/orders", "/v1/refunds/rf_x", "/v1/refunds/rf_x/submit"])
def test_options_answers_the_allowed_methods_in_json(merchant, path):
    response = merchant.options(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "OPTIONS" in response["Allow"]


def test_a_crash_under_v1_is_a_json_500(merchant, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr("api.views.refund_read", explode)
    assert_error_json(merchant.get("/v1/refunds/rf_x"), ERR_INTERNAL)


def test_a_crash_in_a_webhook_is_a_json_500(merchant, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr("api.webhooks.webhook_receive", explode)
    assert_error_json(merchant.post("/webhooks/payments", b"{}", content_type="application/json"), ERR_INTERNAL)


# --- bodies too large ---------------------------------------------------------


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
@pytest.mark.parametrize(
    "path", ["/v1/orders", "/v1/orders/x/refunds", "/v1/refunds/rf_x/decision", "/webhooks/payments"]
)
def test_a_body_over_the_limit_is_a_json_413(merchant, path):
    body = b'{"note": "' + b"x" * 2048 + b'"}'
    response = merchant.post(path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big")
    assert_error_json(response, ERR_BODY_TOO_LARGE)
    assert response.json()["details"] == {"max_bytes": 1024}


def test_a_ten_megabyte_body_is_a_json_413_at_the_default_limit(merchant):
    order = captured_order()
    body = b'{"note": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = merchant.post(
        f"/v1/orders/{order.order_id}/refunds", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big"
    )
    assert_error_json(response, ERR_BODY_TOO_LARGE)
    assert not Refund.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_a_body_at_the_limit_is_read(merchant):
    order = captured_order()
    filler = 1024 - len(b'{"amount_minor": 1000, "currency": "USD", "reason": "other", "note": ""}')
    body = b'{"amount_minor": 1000, "currency": "USD", "reason": "other", "note": "' + b"x" * filler + b'"}'
    assert len(body) == 1024
    response = merchant.post(
        f"/v1/orders/{order.order_id}/refunds", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="edge"
    )
    assert response.status_code == 202, response.content


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_a_too_large_body_outside_the_api_keeps_djangos_page(client):
    response = client.post("/console/login/", b"x" * 2048, content_type="application/octet-stream")
    assert not response["Content-Type"].startswith("application/json")


# --- Idempotency-Key: missing is not the same as unusable ---------------------


def test_no_idempotency_key_is_missing(merchant):
    order = captured_order()
    assert_error_json(create(merchant, order.order_id, key=None), ERR_IDEMPOTENCY_KEY_MISSING)


@pytest.mark.parametrize(
    "key",
    ["", "   ", "k" * 256, "k" * 10_000, "caf\u00e9", "tab\tinside", "bell\x07"],
    ids=["empty", "blank", "256-chars", "10000-chars", "non-ascii", "tab", "control"],
)
def test_an_unusable_idempotency_key_is_invalid_not_missing(merchant, key):
    order = captured_order()
    response = create(merchant, order.order_id, headers={"HTTP_IDEMPOTENCY_KEY": key}, key=None)
    assert_error_json(response, ERR_IDEMPOTENCY_KEY_INVALID)
    assert not Refund.objects.exists()


@pytest.mark.parametrize("key", ["k" * 255, "a", "order 42: retry #1", "550e8400-e29b-41d4-a716-446655440000"])
def test_a_key_within_the_rules_is_accepted(merchant, key):
    order = captured_order()
    response = create(merchant, order.order_id, key=key)
    assert response.status_code == 202, response.content


def test_the_validation_code_stays_for_a_malformed_body(merchant):
    order = captured_order()
    response = merchant.post(
        f"/v1/orders/{order.order_id}/refunds", "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert_error_json(response, ERR_VALIDATION)
