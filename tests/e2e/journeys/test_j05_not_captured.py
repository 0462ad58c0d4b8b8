"""SPEC §11 journey 5: a payment that is not captured cannot be refunded (402)."""

from core.errors import ERR_NOT_CAPTURED
from tests.support.merchant import push_order, refund_body


def test_refund_of_uncaptured_payment_is_402(merchant_http):
    order_id, _ = push_order(merchant_http, amount_minor=10000, status="capture_pending")

    response = merchant_http.post(f"/v1/orders/{order_id}/refunds", refund_body(1000), **{"Idempotency-Key": "x"})

    assert response.status_code == 402
    assert response.json()["code"] == ERR_NOT_CAPTURED
    assert merchant_http.get(f"/v1/orders/{order_id}/refunds").json()["refunds"] == []
