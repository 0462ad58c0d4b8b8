"""SPEC §11 journey 4: a refund over the remaining amount is refused with 400."""

from core.errors import ERR_EXCEEDS_REMAINING
from tests.support.merchant import push_order, refund_body


def test_refund_over_remaining_is_refused(merchant_http):
    order_id, _ = push_order(merchant_http, amount_minor=10000)
    first = merchant_http.post(f"/v1/orders/{order_id}/refunds", refund_body(6000), **{"Idempotency-Key": "a"})
    assert first.status_code == 202

    over = merchant_http.post(f"/v1/orders/{order_id}/refunds", refund_body(4001), **{"Idempotency-Key": "b"})

    assert over.status_code == 400
    body = over.json()
    assert body["code"] == ERR_EXCEEDS_REMAINING
    assert body["message_id"] == "refund.exceeds_remaining"
    assert body["details"]["remaining_refundable_minor"] == 4000
    assert body["correlation_id"] == over.headers["X-Correlation-Id"]
    listing = merchant_http.get(f"/v1/orders/{order_id}/refunds").json()
    assert listing["remaining_refundable_minor"] == 4000
    assert len(listing["refunds"]) == 1
