"""Every error of SPEC §9 has its status, code, message id and correlation id."""

import pytest
from django.test import override_settings

from core.errors import (
    ERR_AMOUNT_RANGE,
    ERR_AUTHN_REQUIRED,
    ERR_AUTHZ_SCOPE,
    ERR_CHARGED_BACK,
    ERR_CURRENCY_MISMATCH,
    ERR_EXCEEDS_REMAINING,
    ERR_IDEMPOTENCY_KEY_MISSING,
    ERR_NOT_CAPTURED,
    ERR_NOT_FOUND,
    ERR_RATE_LIMITED,
    ERR_VALIDATION,
    ERR_VOIDED,
)
from refunds.enums import PaymentStatus
from tests.api.conftest import create
from tests.refunds.factories import captured_order

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["message_id"] and body["message"]
    assert body["correlation_id"] == response["X-Correlation-Id"]


def test_missing_key_is_401(client):
    assert_error(client.get("/v1/refunds/rf_x"), 401, ERR_AUTHN_REQUIRED)


def test_unknown_key_is_401(client):
    assert_error(client.get("/v1/refunds/rf_x", HTTP_AUTHORIZATION="Bearer rdk_nope"), 401, ERR_AUTHN_REQUIRED)


def test_missing_scope_is_403(client_for):
    reader = client_for(scopes=["refunds:read"])
    order = captured_order()
    assert_error(create(reader, order.order_id), 403, ERR_AUTHZ_SCOPE)


def test_unknown_refund_is_404(merchant):
    assert_error(merchant.get("/v1/refunds/rf_doesnotexist"), 404, ERR_NOT_FOUND)


def test_unknown_order_is_404(merchant):
    assert_error(create(merchant, "NOPE"), 404, ERR_NOT_FOUND)


def test_unknown_path_under_v1_is_json_404(merchant):
    assert_error(merchant.get("/v1/nothing-here"), 404, ERR_NOT_FOUND)


@pytest.mark.parametrize("amount", [0, -5, "100", 10.5, None, True])
def test_amount_not_a_positive_integer_is_400(merchant, amount):
    order = captured_order()
    assert_error(create(merchant, order.order_id, amount_minor=amount), 400, ERR_AMOUNT_RANGE)


def test_idempotency_key_is_required(merchant):
    order = captured_order()
    assert_error(create(merchant, order.order_id, key=None), 400, ERR_IDEMPOTENCY_KEY_MISSING)


def test_currency_mismatch_is_400(merchant):
    order = captured_order(currency="USD")
    assert_error(create(merchant, order.order_id, currency="EUR"), 400, ERR_CURRENCY_MISMATCH)


def test_unknown_reason_is_a_validation_error(merchant):
    order = captured_order()
    assert_error(create(merchant, order.order_id, reason="because"), 400, ERR_VALIDATION)


def test_over_remaining_is_400_with_the_remaining_amount(merchant):
    order = captured_order(amount_minor=1000)
    response = create(merchant, order.order_id, amount_minor=1001)
    assert_error(response, 400, ERR_EXCEEDS_REMAINING)
    assert response.json()["details"]["remaining_refundable_minor"] == 1000


@pytest.mark.parametrize(
    ("status", "http", "code"),
    [
        (PaymentStatus.CAPTURE_PENDING, 402, ERR_NOT_CAPTURED),
        (PaymentStatus.CHARGED_BACK, 422, ERR_CHARGED_BACK),
        (PaymentStatus.VOIDED, 422, ERR_VOIDED),
    ],
)
def test_payment_state_refusals(merchant, status, http, code):
    order = captured_order(status=status)
    assert_error(create(merchant, order.order_id), http, code)


@override_settings(RATE_LIMIT_CREATE_PER_MINUTE=2)
def test_create_is_rate_limited_per_key(merchant):
    order = captured_order(amount_minor=100000)
    for n in range(2):
        assert create(merchant, order.order_id, key=f"k{n}").status_code == 202
    response = create(merchant, order.order_id, key="k3")
    assert_error(response, 429, ERR_RATE_LIMITED)
    assert int(response["Retry-After"]) >= 1


def test_caller_correlation_id_is_echoed_and_stored(merchant):
    order = captured_order()
    response = create(merchant, order.order_id, headers={"HTTP_X_CORRELATION_ID": "corr-123"})
    assert response["X-Correlation-Id"] == "corr-123"
    assert merchant.get(f"/v1/refunds/{response.json()['refund_id']}").json()["correlation_id"] == "corr-123"


def test_malformed_json_is_a_validation_error(merchant):
    order = captured_order()
    response = merchant.post(
        f"/v1/orders/{order.order_id}/refunds", "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert_error(response, 400, ERR_VALIDATION)
