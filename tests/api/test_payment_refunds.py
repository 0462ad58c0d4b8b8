"""`GET /v1/payments/{provider_payment_id}/refunds`: one payment's refunds with what is left (issue 14)."""

from __future__ import annotations

import pytest

from core.actor import Actor
from core.errors import ERR_NOT_FOUND
from refunds.services.merchants import merchant_create
from tests.refunds.factories import captured_order, make_refund, merchant_system

pytestmark = pytest.mark.django_db


@pytest.fixture
def b_shop(db):
    return merchant_create(slug="b-shop", name="B", actor=Actor.system("test"))


def test_another_merchants_payment_is_not_found_like_no_payment(client_for, b_shop):
    order = captured_order(amount_minor=5000)
    make_refund(order=order, amount_minor=1000, actor=merchant_system())
    attacker = client_for("b-key", merchant="b-shop")

    theirs = attacker.get(f"/v1/payments/{order.payment.provider_payment_id}/refunds")
    nobodys = attacker.get("/v1/payments/pi_nobody/refunds")

    assert theirs.status_code == nobodys.status_code == 404
    assert theirs.json()["code"] == nobodys.json()["code"] == ERR_NOT_FOUND
    assert order.order_id not in theirs.content.decode()


def test_every_refund_of_the_payment_with_captured_and_remaining(merchant):
    order = captured_order(amount_minor=5000)
    actor = merchant_system()
    first = make_refund(order=order, amount_minor=1000, actor=actor)
    second = make_refund(order=order, amount_minor=1500, actor=actor)
    make_refund(order=captured_order(), amount_minor=100, actor=actor)  # another payment's

    response = merchant.get(f"/v1/payments/{order.payment.provider_payment_id}/refunds")

    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if k != "refunds"} == {
        "provider_payment_id": order.payment.provider_payment_id,
        "order_id": order.order_id,
        "currency": "USD",
        "payment_status": "captured",
        "captured_amount_minor": 5000,
        "remaining_refundable_minor": 2500,
    }
    assert [r["refund_id"] for r in body["refunds"]] == [first.public_id, second.public_id]
    assert body["refunds"][0] == merchant.get(f"/v1/refunds/{first.public_id}").json()


def test_a_payment_without_refunds_lists_none(merchant):
    order = captured_order(amount_minor=5000)
    body = merchant.get(f"/v1/payments/{order.payment.provider_payment_id}/refunds").json()
    assert body["refunds"] == [] and body["remaining_refundable_minor"] == 5000


def test_needs_the_read_scope(client_for):
    order = captured_order()
    response = client_for("creator", scopes=["refunds:create"]).get(
        f"/v1/payments/{order.payment.provider_payment_id}/refunds"
    )
    assert response.status_code == 403
