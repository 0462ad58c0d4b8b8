"""Provider down for a while: refunds are accepted and wait, the breaker opens, all complete after."""

import time

import requests
from django.test import override_settings

from providers.breaker import CircuitBreaker
from refunds.enums import RefundState
from refunds.models import OutboxMessage, Refund
from tests.support.live import wait_for
from tests.support.merchant import create_refund, push_order
from tests.support.stack import Stack


def test_outage_refunds_wait_breaker_opens_then_all_complete(own_stack, chaos_client):
    own_stack.simulator.stop()
    orders = [push_order(chaos_client, mode="ok", amount_minor=5000) for _ in range(6)]

    refund_ids = [create_refund(chaos_client, order_id) for order_id, _ in orders]  # still accepted

    wait_for(lambda: _breaker_open(own_stack), timeout=30, message="the circuit breaker to open")
    time.sleep(2)
    states = set(Refund.objects.filter(public_id__in=refund_ids).values_list("state", flat=True))
    assert states <= {RefundState.APPROVED, RefundState.SUBMITTING}
    assert not OutboxMessage.objects.filter(refund__public_id__in=refund_ids, status="dead").exists()

    own_stack.simulator.start()  # same port, same state file

    wait_for(
        lambda: Refund.objects.filter(public_id__in=refund_ids, state=RefundState.COMPLETED).count() == 6,
        timeout=90,
        message="every refund to complete after the outage",
    )
    for _, payment_id in orders:
        assert len(own_stack.simulator.refunds_for(payment_id)) == 1
    assert requests.get(f"{own_stack.url}/healthz", timeout=5).ok


def _breaker_open(stack: Stack) -> bool:
    # The breaker every worker of the stack sees, under the stack's cache key prefix.
    with override_settings(CACHES=stack.caches()):
        return CircuitBreaker("stripe").state() != "closed"
