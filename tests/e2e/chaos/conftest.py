"""Chaos tests own their whole stack: they kill and restart its processes."""

from __future__ import annotations

import itertools

import pytest

from tests.refunds.factories import api_key, captured_yesterday
from tests.support.live import ApiClient
from tests.support.stack import Stack

_n = itertools.count(1)


@pytest.fixture
def own_stack(request, transactional_db, django_db_setup):
    marker = request.node.get_closest_marker("stack_options")
    running = Stack(worker_concurrency=2, **(marker.kwargs if marker else {})).start()
    yield running
    running.stop()


@pytest.fixture
def chaos_client(own_stack) -> ApiClient:
    return ApiClient(own_stack.url, api_key("chaos-merchant"))


def push_order(client: ApiClient, *, mode: str, amount_minor: int = 5000) -> tuple[str, str]:
    order_id = f"C-{next(_n):05d}"
    payment_id = f"pi_sim_{mode}_{order_id.lower().replace('-', '')}"
    response = client.post(
        "/v1/orders",
        {
            "order_id": order_id,
            "currency": "USD",
            "customer": {"id": f"c-{order_id}"},
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


def create_refund(client: ApiClient, order_id: str, amount_minor: int = 5000) -> str:
    response = client.post(
        f"/v1/orders/{order_id}/refunds",
        {"amount_minor": amount_minor, "currency": "USD", "reason": "not_received"},
        **{"Idempotency-Key": f"chaos-{order_id}"},
    )
    assert response.status_code == 202, response.text
    return response.json()["refund_id"]
