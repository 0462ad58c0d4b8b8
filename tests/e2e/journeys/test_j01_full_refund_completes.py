"""SPEC §11 journey 1: captured 100.00, refund 100.00 → auto-approved → submitted →
completed; remaining 0; provider refund id stored; REFUND_PENDING and REFUND_SETTLED posted."""

from ledger.services import trial_balance
from tests.support.merchant import push_order, refund_body, wait_state


def test_full_refund_is_auto_approved_and_completes(stack, stack_merchant):
    order_id, payment_id = push_order(stack_merchant, mode="ok", amount_minor=10000)

    created = stack_merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(10000), **{"Idempotency-Key": "j1"})
    assert created.status_code == 202
    assert created.json()["state"] == "approved"
    assert created.json()["remaining_refundable_minor"] == 0

    refund = wait_state(stack_merchant, created.json()["refund_id"], {"completed"})
    assert refund["provider_refund_id"].startswith("re_")
    assert [e["type"] for e in refund["ledger_entries"]] == ["REFUND_PENDING", "REFUND_SETTLED"]
    assert stack_merchant.get(f"/v1/orders/{order_id}/refunds").json()["remaining_refundable_minor"] == 0
    at_provider = stack.simulator.refunds_for(payment_id)
    assert [r["id"] for r in at_provider] == [refund["provider_refund_id"]]
    assert at_provider[0]["amount"] == 10000
    assert trial_balance()["USD"] == 0
