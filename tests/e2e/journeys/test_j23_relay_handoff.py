"""Issue 17: with OUTBOX_HANDOFF=relay a refund completes with nothing published by the web process.

The stack's web and worker publish no outbox task; `manage.py outbox_relay`
runs beside them. Beat's sweeps are set to an hour, so within the test only
the relay can queue the provider call, and its own poll is an hour too: only
the create's NOTIFY wakes it. The worker then calls the simulator, and its
answer or webhook completes the refund.
"""

from __future__ import annotations

import pytest

from refunds.models import OutboxMessage, Refund
from tests.support.merchant import push_order, refund_body, wait_state
from tests.support.stack import Stack

HOUR = "3600"


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    running = Stack(
        handoff="relay",
        extra_env={
            "OUTBOX_SWEEP_SECONDS": HOUR,
            "EMAIL_SWEEP_SECONDS": HOUR,
            "WEBHOOK_SWEEP_SECONDS": HOUR,
            "OUTBOX_RELAY_POLL_SECONDS": HOUR,
        },
    ).start()
    yield running
    running.stop()


def test_a_refund_completes_through_the_relay_woken_by_its_commit(stack, stack_merchant):
    order_id, payment_id = push_order(stack_merchant, mode="ok", amount_minor=10000)

    created = stack_merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(2500), **{"Idempotency-Key": "j23"})
    assert created.status_code == 202, created.text
    assert created.json()["state"] == "approved"

    refund = wait_state(stack_merchant, created.json()["refund_id"], {"completed"})
    assert refund["provider_refund_id"].startswith("re_")
    assert [r["id"] for r in stack.simulator.refunds_for(payment_id)] == [refund["provider_refund_id"]]
    message = OutboxMessage.objects.get(refund=Refund.objects.get(public_id=created.json()["refund_id"]))
    assert message.status == "done"
    assert stack.relay is not None and stack.relay.process.poll() is None
