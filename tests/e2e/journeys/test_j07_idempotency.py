"""SPEC §11 journey 7: same Idempotency-Key with another body → 409; same body → replayed answer."""

from concurrent.futures import ThreadPoolExecutor

from core.errors import ERR_CONFLICT_IDEMPOTENCY
from tests.support.merchant import push_order, refund_body


def test_same_key_replays_and_other_body_conflicts(merchant_http):
    order_id, _ = push_order(merchant_http, amount_minor=10000)
    path = f"/v1/orders/{order_id}/refunds"

    first = merchant_http.post(path, refund_body(3000), **{"Idempotency-Key": "key-7"})
    replay = merchant_http.post(path, refund_body(3000), **{"Idempotency-Key": "key-7"})
    conflict = merchant_http.post(path, refund_body(3500), **{"Idempotency-Key": "key-7"})

    assert first.status_code == 202
    assert (replay.status_code, replay.json()) == (202, first.json())
    assert replay.headers["Idempotency-Status"] == "replayed"
    assert conflict.status_code == 409
    assert conflict.json()["code"] == ERR_CONFLICT_IDEMPOTENCY
    assert len(merchant_http.get(path).json()["refunds"]) == 1


def test_racing_retries_with_one_key_create_one_refund(merchant_http):
    order_id, _ = push_order(merchant_http, amount_minor=10000)
    path = f"/v1/orders/{order_id}/refunds"

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(
            pool.map(lambda _: merchant_http.post(path, refund_body(1000), **{"Idempotency-Key": "race"}), range(16))
        )

    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["refund_id"] for r in responses}) == 1
    assert len(merchant_http.get(path).json()["refunds"]) == 1
