"""SPEC §11 journey 6: provider timeout → retries → completed; the provider holds exactly one refund."""

from audit.models import AuditEvent
from refunds.models import OutboxMessage, Refund
from tests.support.live import wait_for
from tests.support.merchant import push_order, refund_body, wait_state


def test_timeout_is_retried_with_the_same_key_and_refunds_once(stack, stack_merchant):
    order_id, payment_id = push_order(stack_merchant, mode="timeout", amount_minor=8000)

    created = stack_merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(8000), **{"Idempotency-Key": "j6"})
    refund = wait_state(stack_merchant, created.json()["refund_id"], {"completed"}, timeout=45)

    at_provider = stack.simulator.refunds_for(payment_id)
    assert len(at_provider) == 1
    assert refund["provider_refund_id"] == at_provider[0]["id"]
    message = wait_for(
        lambda: OutboxMessage.objects.filter(refund__public_id=refund["refund_id"], status="done").first(),
        timeout=30,
        message="the outbox message to be resolved",
    )
    # The first call timed out; the refund then completed either by our retry
    # with the same key or by the provider's webhook, whichever came first.
    assert "Unavailable" in message.last_error
    assert message.status == "done"
    row = Refund.objects.get(public_id=refund["refund_id"])
    assert AuditEvent.objects.filter(refund=row, action="refund.submitted").count() == 1


def test_5xx_twice_then_success_refunds_once(stack, stack_merchant):
    order_id, payment_id = push_order(stack_merchant, mode="5xx", amount_minor=4000)

    created = stack_merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(4000), **{"Idempotency-Key": "j6b"})
    wait_state(stack_merchant, created.json()["refund_id"], {"completed"}, timeout=45)

    assert len(stack.simulator.refunds_for(payment_id)) == 1


def test_async_refund_waits_pending_then_completes_by_webhook(stack, stack_merchant):
    order_id, payment_id = push_order(stack_merchant, mode="async", amount_minor=4000)

    created = stack_merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(4000), **{"Idempotency-Key": "j6c"})
    refund_id = created.json()["refund_id"]
    wait_state(stack_merchant, refund_id, {"provider_pending", "completed"})
    done = wait_state(stack_merchant, refund_id, {"completed"}, timeout=30)

    assert done["provider_refund_id"] == stack.simulator.refunds_for(payment_id)[0]["id"]


def test_failed_refund_is_reversed_and_releases_the_amount(stack, stack_merchant):
    order_id, _ = push_order(stack_merchant, mode="fail", amount_minor=4000)

    created = stack_merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(4000), **{"Idempotency-Key": "j6d"})
    failed = wait_state(stack_merchant, created.json()["refund_id"], {"failed"})

    assert failed["failure_code"] == "expired_or_canceled_card"
    assert failed["failure_retryable"] is False
    assert [e["type"] for e in failed["ledger_entries"]] == ["REFUND_PENDING", "REFUND_REVERSED"]
    assert stack_merchant.get(f"/v1/orders/{order_id}/refunds").json()["remaining_refundable_minor"] == 4000
