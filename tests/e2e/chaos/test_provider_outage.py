"""Provider down for a while: refunds are accepted and wait, the breaker opens, all complete after.

Some payments' refunds legitimately fail at the provider (`pi_sim_broken_`:
HTTP 500 for that request on every try) while it serves every other one: they
are retried on their own backoff and must never open the breaker, nor keep it
open after an outage. Recovery is judged by counting the breaker's opens (its
shared state in the stack's Redis), never by wall time.
"""

import time

import requests
from django.test import override_settings

from providers.breaker import BreakerStats, CircuitBreaker
from refunds.enums import OutboxStatus, RefundState
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


def test_steady_load_with_requests_the_provider_cannot_serve_never_opens_the_breaker(own_stack, chaos_client):
    broken = [create_refund(chaos_client, push_order(chaos_client, mode="broken")[0]) for _ in range(3)]
    good = [create_refund(chaos_client, push_order(chaos_client, mode="ok")[0]) for _ in range(20)]

    wait_for(lambda: _count(good, RefundState.COMPLETED) == 20, timeout=60, message="every good refund to complete")
    # From now on only the broken ones call, every call a 500: eight more tries each are 24 calls over longer
    # than the breaker's 10 s window (backoff at most 3 s), far past its minimum volume of 4. Counted as
    # failures of the provider, they would open it once the good calls have left the window.
    _wait_for_more_attempts(broken, 8)

    stats = _breaker(own_stack)
    assert (stats.state, stats.opens) == ("closed", 0)
    assert _count(broken, RefundState.SUBMITTING) == 3  # still retried, never guessed


def test_after_an_outage_good_refunds_complete_within_one_more_cooldown_despite_failing_ones(own_stack, chaos_client):
    broken = [create_refund(chaos_client, push_order(chaos_client, mode="broken")[0]) for _ in range(4)]
    wait_for(lambda: _attempts_at_least(broken, 1), timeout=30, message="the broken refunds to be tried")
    own_stack.simulator.stop()
    orders = [push_order(chaos_client, mode="ok", amount_minor=5000) for _ in range(8)]
    good = [create_refund(chaos_client, order_id) for order_id, _ in orders]

    # Open, then at least one half-open round tried the provider, still down, and reopened it.
    wait_for(lambda: _breaker(own_stack).opens >= 2, timeout=60, message="the breaker to open and reopen")
    assert _count(good, RefundState.COMPLETED) == 0

    own_stack.simulator.start()  # same port, same state file
    opens_at_recovery = _breaker(own_stack).opens

    wait_for(lambda: _count(good, RefundState.COMPLETED) == 8, timeout=90, message="every good refund to complete")
    # Trials that are broken refunds show the provider answering: the first round after the outage closes it.
    # One more open is allowed for a round already under way when the provider came back.
    assert _breaker(own_stack).opens <= opens_at_recovery + 1
    assert _breaker(own_stack).state == "closed"
    for _, payment_id in orders:
        assert len(own_stack.simulator.refunds_for(payment_id)) == 1
    assert not OutboxMessage.objects.filter(refund__public_id__in=good, status=OutboxStatus.DEAD).exists()

    # And it stays closed while only the broken ones keep failing.
    opens = _breaker(own_stack).opens
    _wait_for_more_attempts(broken, 4)
    assert (_breaker(own_stack).state, _breaker(own_stack).opens) == ("closed", opens)
    for refund_id in broken:
        payment_id = Refund.objects.get(public_id=refund_id).payment.provider_payment_id
        assert own_stack.simulator.refunds_for(payment_id) == []


def _breaker(stack: Stack) -> BreakerStats:
    # The breaker every worker of the stack sees, under the stack's cache key prefix.
    with override_settings(CACHES=stack.caches()):
        return CircuitBreaker("stripe").stats()


def _breaker_open(stack: Stack) -> bool:
    return _breaker(stack).state != "closed"


def _count(refund_ids: list[str], state: str) -> int:
    return Refund.objects.filter(public_id__in=refund_ids, state=state).count()


def _attempts(refund_ids: list[str]) -> dict[str, int]:
    return dict(
        OutboxMessage.objects.filter(refund__public_id__in=refund_ids).values_list("refund__public_id", "attempts")
    )


def _wait_for_more_attempts(refund_ids: list[str], more: int) -> None:
    wanted = {refund_id: n + more for refund_id, n in _attempts(refund_ids).items()}
    wait_for(
        lambda: all(n >= wanted[refund_id] for refund_id, n in _attempts(refund_ids).items()),
        timeout=90,
        message=f"{more} more tries of every broken refund",
    )


def _attempts_at_least(refund_ids: list[str], n: int) -> bool:
    attempts = _attempts(refund_ids)
    return len(attempts) == len(refund_ids) and min(attempts.values()) >= n
