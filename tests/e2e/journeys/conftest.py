"""Journeys run over real HTTP against gunicorn worker processes and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest

from tests.refunds.factories import api_key, captured_yesterday
from tests.support.live import ApiClient

_orders = itertools.count(1)


@pytest.fixture
def merchant_http(live_app, transactional_db) -> ApiClient:
    return ApiClient(live_app.url, api_key("merchant"))


@pytest.fixture
def push_order(merchant_http):
    """Push an order through the API, as the merchant system does."""

    def push(*, amount_minor: int = 10000, currency: str = "USD", status: str = "captured", payment_id=None) -> str:
        order_id = f"J-{next(_orders):05d}"
        response = merchant_http.post(
            "/v1/orders",
            {
                "order_id": order_id,
                "currency": currency,
                "customer": {"id": f"c-{order_id}", "email": "buyer@example.com"},
                "lines": [{"sku": "SKU", "unit_amount_minor": amount_minor}],
                "payment": {
                    "provider_payment_id": payment_id or f"pi_sim_ok_{order_id}",
                    "rail": "card",
                    "amount_minor": amount_minor,
                    "status": status,
                    "captured_at": captured_yesterday() if status == "captured" else None,
                },
            },
        )
        assert response.status_code == 201, response.text
        return order_id

    return push


def refund_body(amount_minor: int, **extra) -> dict:
    return {"amount_minor": amount_minor, "currency": "USD", "reason": "not_received", **extra}


@pytest.fixture
def stack_merchant(stack, transactional_db) -> ApiClient:
    return ApiClient(stack.url, api_key("merchant", role=None))


@pytest.fixture
def stack_order(stack_merchant):
    """Push an order whose payment id picks the simulator's behaviour (`pi_sim_<mode>_…`)."""

    def push(*, mode: str = "ok", amount_minor: int = 10000, currency: str = "USD") -> tuple[str, str]:
        order_id = f"S-{next(_orders):05d}"
        payment_id = f"pi_sim_{mode}_{order_id.lower().replace('-', '')}"
        response = stack_merchant.post(
            "/v1/orders",
            {
                "order_id": order_id,
                "currency": currency,
                "customer": {"id": f"c-{order_id}", "email": "buyer@example.com"},
                "lines": [
                    {
                        "sku": "SKU",
                        "unit_amount_minor": amount_minor - amount_minor // 11,
                        "tax_minor": amount_minor // 11,
                    }
                ],
                "payment": {
                    "provider_payment_id": payment_id,
                    "rail": "card",
                    "amount_minor": amount_minor,
                    "status": "captured",
                    "captured_at": captured_yesterday(),
                },
            },
        )
        assert response.status_code == 201, response.text
        return order_id, payment_id

    return push


def wait_state(client: ApiClient, refund_id: str, states: set[str], timeout: float = 30.0) -> dict:
    from tests.support.live import wait_for

    def current():
        body = client.get(f"/v1/refunds/{refund_id}").json()
        return body if body["state"] in states else None

    return wait_for(current, timeout=timeout, message=f"{refund_id} to reach {states}")
