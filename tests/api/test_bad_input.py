"""Hostile input to the API is a 400 with the usual error JSON, never a 500 (issue 10, item 14; issue 11, item 7)."""

from __future__ import annotations

import copy
import json
import threading

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.errors import ERR_AMOUNT_RANGE, ERR_CONFLICT_ORDER, ERR_VALIDATION
from refunds.models import Customer, Order, Payment, Refund
from refunds.services import orders as order_services
from tests.api.test_refunds import ORDER
from tests.refunds.factories import api_key
from tests.support.routes import routes

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


# --- every POST endpoint, taken from the URL patterns ---------------------------------------------

# Operations that take no body (schema: request=None): they ignore one and answer as without it.
BODILESS = {"api:refund-submit", "api:webhook-endpoint-rotate-secret", "api:order-request-links"}
API_POSTS = [r for r in routes("v1/") if "post" in r.methods]


def stored_rows() -> dict[str, int]:
    return {
        "orders": Order.objects.count(),
        "payments": Payment.objects.count(),
        "customers": Customer.objects.count(),
        "refunds": Refund.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


@pytest.fixture
def ids(merchant) -> dict[str, str]:
    """Real ids of the merchant's, so each request gets as far as reading its body."""
    assert merchant.post("/v1/orders", ORDER, format="json").status_code == 201
    created = merchant.post(
        "/v1/orders/A-1/refunds",
        {"amount_minor": 1000, "currency": "USD", "reason": "quality"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-ids",
    )
    assert created.status_code == 202, created.content[:300]
    endpoint = merchant.post(
        "/v1/webhook_endpoints",
        {"url": "https://93.184.215.14/hooks", "events": ["refund.*"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-endpoint",
    )
    assert endpoint.status_code == 201, endpoint.content[:300]
    event = merchant.get("/v1/events").json()["data"][0]
    return {
        "order_id": "A-1",
        "refund_id": created.json()["refund_id"],
        "event_id": event["id"],
        "endpoint_id": endpoint.json()["id"],
        "code": "SC-2222-3333-4444",
    }


def test_every_api_post_endpoint_is_covered():
    assert {r.name for r in API_POSTS} >= {"api:order-upsert", "api:order-refunds", "api:refund-decision"}


@pytest.mark.parametrize("route", API_POSTS, ids=lambda r: r.name)
@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_json_nested_five_thousand_levels_is_a_400_on_every_post_endpoint(merchant, ids, route, opening):
    closing = "]" if opening == "[" else "}"
    body = opening * 5000 + "1" + closing * 5000
    path = route.path(ids)
    before = stored_rows()

    response = merchant.post(path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"k-deep-{opening}")

    if route.name in BODILESS:
        assert response.status_code < 500, response.content[:300]
        assert response.status_code == merchant.post(path, HTTP_IDEMPOTENCY_KEY="k-empty").status_code
    else:
        assert_error_json(response, 400, ERR_VALIDATION)
        assert stored_rows() == before


def _order_body_with_amount(raw_amount: str) -> str:
    """The order as JSON text with `payment.amount_minor` written exactly as `raw_amount`."""
    order = copy.deepcopy(ORDER)
    order["payment"]["amount_minor"] = "__AMOUNT__"
    return json.dumps(order).replace('"__AMOUNT__"', raw_amount)


@pytest.mark.parametrize(
    "raw_amount",
    [
        str(2**63),
        str(2**63 - 1),
        str(-(2**63)),
        str(-(2**63) - 1),
        "1e400",
        "-1e400",
        "9223372036854775807.0",
        "Infinity",
        "NaN",
        '"1e3"',
        '"100"',
        "true",
        "null",
        "[1]",
        "{}",
        "1" * 5000,
    ],
)
def test_a_payment_amount_that_is_no_storable_integer_is_a_400(merchant, raw_amount):
    before = stored_rows()

    response = merchant.post("/v1/orders", _order_body_with_amount(raw_amount), content_type="application/json")

    assert_error_json(response, 400, ERR_VALIDATION)
    assert stored_rows() == before


# --- a provider payment id two orders claim at once --------------------------------------------------


def both_checked_then_insert(monkeypatch, parties: int) -> None:
    """Hold each push after its "is this payment id taken?" check until all have checked.

    Without this the pushes would usually run one after the other and the
    second would be refused by the check; with it every push has seen the id
    free, as concurrent pushes can, and the database's unique key decides.
    """
    barrier = threading.Barrier(parties, timeout=30)
    check = order_services._refuse_payment_id_of_another_order
    first_checks = iter(range(parties))
    lock = threading.Lock()

    def check_then_wait(data, order):
        check(data, order)
        with lock:
            held = next(first_checks, None) is not None
        if held:  # only each push's first check: a push that retries runs alone
            barrier.wait()

    monkeypatch.setattr(order_services, "_refuse_payment_id_of_another_order", check_then_wait)


def push_in_threads(key: str, bodies: list[dict]) -> list:
    """POST each body to /v1/orders from its own thread (own client, own connection); the responses."""
    from django.db import connection

    responses: list = [None] * len(bodies)

    def push(index: int, body: dict) -> None:
        try:
            client = APIClient(raise_request_exception=False)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
            responses[index] = client.post("/v1/orders", body, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=push, args=(n, body)) for n, body in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a push never finished (deadlock?)"
    return responses


def order_with(order_id: str, customer_id: str, payment_id: str) -> dict:
    order = copy.deepcopy(ORDER)
    order.update(order_id=order_id, customer={**order["customer"], "id": customer_id})
    order["payment"]["provider_payment_id"] = payment_id
    return order


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_customer", [False, True], ids=["two customers", "one customer"])
def test_two_orders_claiming_one_payment_id_at_once_are_a_201_and_a_409(monkeypatch, same_customer):
    key = api_key()
    both_checked_then_insert(monkeypatch, parties=2)
    bodies = [order_with("A-1", "c-1", "pi_shared"), order_with("A-2", "c-1" if same_customer else "c-2", "pi_shared")]

    responses = push_in_threads(key, bodies)

    assert sorted(r.status_code for r in responses) == [201, 409], [r.content[:300] for r in responses]
    refused = next(r for r in responses if r.status_code == 409)
    assert_error_json(refused, 409, ERR_CONFLICT_ORDER)
    assert refused.json()["details"]["field"] == "payment.provider_payment_id"
    # The loser wrote nothing: one order, its payment, its customer, one audit event of the creation.
    winner = next(b for b, r in zip(bodies, responses, strict=True) if r.status_code == 201)
    assert list(Order.objects.values_list("order_id", flat=True)) == [winner["order_id"]]
    assert Payment.objects.get().order.order_id == winner["order_id"]
    assert list(Customer.objects.values_list("external_id", flat=True)) == [winner["customer"]["id"]]
    assert AuditEvent.objects.filter(action="order.created").count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_order_pushed_twice_at_once_is_created_once_and_updated_once(monkeypatch):
    key = api_key()
    both_checked_then_insert(monkeypatch, parties=2)

    responses = push_in_threads(key, [ORDER, ORDER])

    assert sorted(r.status_code for r in responses) == [200, 201], [r.content[:300] for r in responses]
    assert Order.objects.count() == Payment.objects.count() == 1
