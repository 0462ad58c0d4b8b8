"""SPEC §11 journey 2: captured 100.00, refunds of 30.00 then 20.00 → both complete, remaining 50.00."""

from tests.support.merchant import push_order, refund_body, wait_state


def test_two_partial_refunds_complete_and_leave_fifty(stack, stack_merchant):
    order_id, payment_id = push_order(stack_merchant, mode="ok", amount_minor=10000)
    path = f"/v1/orders/{order_id}/refunds"

    first = stack_merchant.post(path, refund_body(3000), **{"Idempotency-Key": "j2-a"}).json()
    wait_state(stack_merchant, first["refund_id"], {"completed"})
    second = stack_merchant.post(path, refund_body(2000), **{"Idempotency-Key": "j2-b"}).json()
    wait_state(stack_merchant, second["refund_id"], {"completed"})

    listing = stack_merchant.get(path).json()
    assert listing["remaining_refundable_minor"] == 5000
    assert [r["state"] for r in listing["refunds"]] == ["completed", "completed"]
    assert sorted(r["amount"] for r in stack.simulator.refunds_for(payment_id)) == [2000, 3000]
