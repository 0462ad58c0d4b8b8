"""Issue 15 journey 18: the refund of an authorized, uncaptured payment is a void.

Over HTTP against gunicorn, a Celery worker and the Stripe-protocol simulator:
the refund of the whole authorized amount is approved as a `void`, the worker
cancels the PaymentIntent at the simulator, the refund completes and the
payment is `voided`; the ledger balances. A partial void and store credit for
an authorized payment are refused.
"""

from core.errors import ERR_INSTRUMENT_NOT_ALLOWED, ERR_PARTIAL_VOID
from ledger.services import trial_balance
from tests.support.merchant import push_order, refund_body, wait_state


def test_refunding_an_authorized_payment_voids_it_at_the_provider(stack, stack_merchant):
    order_id, payment_id = push_order(stack_merchant, amount_minor=5000, status="authorized")

    created = stack_merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(5000), **{"Idempotency-Key": "j18"})

    assert created.status_code == 202, created.text
    assert stack_merchant.get(f"/v1/refunds/{created.json()['refund_id']}").json()["instrument"] == "void"
    refund = wait_state(stack_merchant, created.json()["refund_id"], {"completed"})
    assert refund["instrument"] == "void"
    payment = stack_merchant.get(f"/v1/payments/{payment_id}/refunds").json()
    assert payment["payment_status"] == "voided"
    assert payment["remaining_refundable_minor"] == 0
    intent = stack.simulator.request("GET", f"/v1/payment_intents/{payment_id}").json()
    assert intent["status"] == "canceled"
    # A void moves no money back: nothing was refunded at the provider.
    assert stack.simulator.refunds_for(payment_id) == []
    assert trial_balance()["USD"] == 0


def test_a_partial_void_and_store_credit_for_an_authorized_payment_are_refused(stack, stack_merchant):
    order_id, payment_id = push_order(stack_merchant, amount_minor=5000, status="authorized")
    path = f"/v1/orders/{order_id}/refunds"

    partial = stack_merchant.post(path, refund_body(2000), **{"Idempotency-Key": "j18-partial"})
    credit = stack_merchant.post(path, refund_body(5000, instrument="store_credit"), **{"Idempotency-Key": "j18-sc"})

    assert (partial.status_code, partial.json()["code"]) == (422, ERR_PARTIAL_VOID)
    assert (credit.status_code, credit.json()["code"]) == (422, ERR_INSTRUMENT_NOT_ALLOWED)
    assert stack_merchant.get(path).json()["refunds"] == []
    payment = stack_merchant.get(f"/v1/payments/{payment_id}/refunds").json()
    assert payment["payment_status"] == "authorized"
