"""A worker killed in the middle of a provider call: the refund still completes, once."""

import pytest

from refunds.enums import RefundState
from refunds.models import OutboxMessage, Refund
from tests.support.live import wait_for
from tests.support.merchant import create_refund, push_order


@pytest.mark.stack_options(webhooks=False)
def test_worker_killed_mid_call_then_new_worker_completes_exactly_once(own_stack, chaos_client):
    order_id, payment_id = push_order(chaos_client, mode="timeout", amount_minor=5000)
    refund_id = create_refund(chaos_client, order_id)

    # The simulator stalls the first call for 3 s: wait until a worker holds the lease, then crash it.
    wait_for(
        lambda: OutboxMessage.objects.filter(refund__public_id=refund_id, lease_expires_at__isnull=False).exists(),
        timeout=15,
        message="a worker to be calling the provider",
    )
    own_stack.workers[0].kill()
    assert Refund.objects.get(public_id=refund_id).state == RefundState.SUBMITTING

    own_stack.add_worker(beat=True)  # its sweeper finds the expired lease
    refund = wait_for(
        lambda: Refund.objects.filter(public_id=refund_id, state=RefundState.COMPLETED).first(),
        timeout=60,
        message="the refund to complete after the crash",
    )

    at_provider = own_stack.simulator.refunds_for(payment_id)
    assert len(at_provider) == 1
    assert refund.provider_refund_id == at_provider[0]["id"]
