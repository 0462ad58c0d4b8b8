"""Hostile input to the API is a 400 with the usual error JSON, never a 500 (issue 10, item 14)."""

from __future__ import annotations

import copy

import pytest
from rest_framework.test import APIClient

from core.errors import ERR_AMOUNT_RANGE, ERR_VALIDATION
from refunds.models import Order
from tests.api.test_refunds import ORDER
from tests.refunds.factories import api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant() -> APIClient:
    # An exception escaping a view is answered as the server would, not re-raised into the test.
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key()}")
    return client


def assert_error_json(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["code"] == code
    assert {"code", "message_id", "message", "correlation_id"} <= set(body)


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_json_nested_five_thousand_levels_is_a_400(merchant, opening):
    closing = "]" if opening == "[" else "}"
    body = opening * 5000 + "1" + closing * 5000

    response = merchant.post("/v1/orders", body, content_type="application/json")

    assert_error_json(response, 400, ERR_VALIDATION)


def test_json_nested_deeper_than_the_limit_is_refused_even_when_python_could_read_it(merchant):
    order = copy.deepcopy(ORDER)
    deep: object = "x"
    for _ in range(100):
        deep = {"n": deep}
    order["customer"]["extra"] = deep

    response = merchant.post("/v1/orders", order, format="json")

    assert_error_json(response, 400, ERR_VALIDATION)
    assert not Order.objects.exists()


def test_ordinary_nesting_is_read(merchant):
    assert merchant.post("/v1/orders", ORDER, format="json").status_code == 201


@pytest.mark.parametrize(
    ("where", "value", "code"),
    [
        ("payment.amount_minor", 2**63, ERR_VALIDATION),
        ("payment.amount_minor", 2**64 + 5, ERR_VALIDATION),
        ("line.quantity", 2**40, ERR_VALIDATION),
        ("line.quantity", 2**31, ERR_VALIDATION),
        ("line.unit_amount_minor", 2**63, ERR_VALIDATION),
        ("line.tax_minor", 2**63, ERR_VALIDATION),
        ("line.discount_minor", 2**63, ERR_VALIDATION),
    ],
)
def test_integers_beyond_what_the_database_holds_are_a_400(merchant, where, value, code):
    order = copy.deepcopy(ORDER)
    if where.startswith("payment."):
        order["payment"][where.split(".")[1]] = value
    else:
        order["lines"][0][where.split(".")[1]] = value

    response = merchant.post("/v1/orders", order, format="json")

    assert_error_json(response, 400, code)
    assert not Order.objects.exists()


def test_line_amounts_that_overflow_together_are_a_400(merchant):
    order = copy.deepcopy(ORDER)
    order["lines"][0].update(unit_amount_minor=2**62, quantity=1000)

    assert_error_json(merchant.post("/v1/orders", order, format="json"), 400, ERR_VALIDATION)


def test_a_refund_amount_beyond_bigint_is_a_400(merchant):
    assert merchant.post("/v1/orders", ORDER, format="json").status_code == 201
    response = merchant.post(
        "/v1/orders/A-1/refunds",
        {"amount_minor": 2**63, "currency": "USD", "reason": "other"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-huge",
    )
    assert_error_json(response, 400, ERR_AMOUNT_RANGE)
