"""At most one queued delivery task per due outbox message (issue 11, item 4).

The sweeper used to queue every due message on every run, and every breaker
deferral added a countdown task: thousands of tasks for a few hundred rows.
Measured on the real Redis broker: the list of the provider queue, plus the
countdown tasks a worker holds unacknowledged until their time comes.
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from refunds.enums import OutboxStatus, RefundState
from refunds.models import OutboxMessage, Refund
from refunds.services.outbox import outbox_deliver
from refunds.tasks import sweep_outbox
from tests.refunds.factories import captured_order, make_refund
from tests.support.live import (
    CeleryWorker,
    delete_cache_keys,
    delete_queues,
    free_port,
    new_namespace,
    own_simulator,
    queue_names,
    stack_env,
    wait_for,
    wait_for_progress,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
N = 8  # more messages than the breaker threshold (4) in the stack settings
CONCURRENCY = 2
# With acks_late a task stays in the broker's unacked hash until its worker acknowledges it, after it
# returned: by then its release may have queued the message's next task. So the live count may hold,
# per worker process, one task that has already run beside its successor.
LIVE_BOUND = N + CONCURRENCY


def queued_tasks(namespace: str) -> int:
    """Tasks in the namespace's provider queue: waiting in its list, or held unacked by a worker (countdowns)."""
    provider_queue = queue_names(namespace)[1]  # deliveries only: approvals also queue customer emails
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        # One MULTI: a task a worker takes between two separate reads would be counted in both places.
        # (Kombu moves it with BRPOP, then HSET: read atomically, it is at worst in neither, never twice.)
        pipe = client.pipeline(transaction=True)
        pipe.llen(provider_queue)
        pipe.hvals("unacked")
        waiting, unacked = pipe.execute()
        held = 0
        for raw in unacked:
            with contextlib.suppress(ValueError, TypeError, IndexError):
                held += json.loads(raw)[2] == provider_queue
        return waiting + held
    finally:
        client.close()


def approved_refunds(count: int) -> list[Refund]:
    refunds = [make_refund(order=captured_order(amount_minor=10000), amount_minor=500) for _ in range(count)]
    assert {r.state for r in refunds} == {RefundState.APPROVED}
    return refunds


@pytest.fixture
def session_queues():
    """This session's own queues, empty: what the test process queues lands there, and no worker reads it."""
    delete_queues(settings.TEST_NAMESPACE)
    yield settings.TEST_NAMESPACE
    delete_queues(settings.TEST_NAMESPACE)


def test_sweeps_and_deferrals_never_queue_a_second_task_for_a_message(session_queues, settings):
    approved_refunds(N)
    assert queued_tasks(session_queues) == N  # one per approval, queued on commit

    for _ in range(5):
        sweep_outbox()
    assert queued_tasks(session_queues) == N, "the sweeper queued tasks beside the ones already queued"

    # The workers take every task; the provider is down, so each delivery is put off with a countdown task.
    delete_queues(session_queues)
    settings.PROVIDER, settings.PROVIDER_API_BASE = "stripe", f"http://127.0.0.1:{free_port()}"
    settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    results = {outbox_deliver(message_id=pk) for pk in OutboxMessage.objects.values_list("pk", flat=True)}
    assert results <= {"retry", "deferred"}
    assert queued_tasks(session_queues) == N

    # Their countdown has passed while a worker still holds the tasks: the sweeper adds none.
    OutboxMessage.objects.update(available_at=timezone.now() - timedelta(seconds=1))
    for _ in range(5):
        sweep_outbox()
    assert queued_tasks(session_queues) == N


def test_a_lost_task_is_queued_again_once_its_mark_runs_out(session_queues):
    approved_refunds(N)
    delete_queues(session_queues)  # the broker lost them (a Redis restart without persistence)

    assert sweep_outbox() == 0  # still trusted to arrive
    OutboxMessage.objects.update(queued_until=timezone.now() - timedelta(seconds=1))
    assert sweep_outbox() == N
    assert sweep_outbox() == 0
    assert queued_tasks(session_queues) == N


def test_with_the_provider_down_the_queue_stays_within_one_task_per_message_then_all_are_delivered(tmp_path):
    """A real worker and beat (sweep every second, breaker cooldown 2 s) against a stopped provider."""
    refunds = approved_refunds(N)
    # Their tasks went to this session's queues, which no worker reads: lost, as the sweeper will find once
    # their marks run out (moved to now here, instead of waiting OUTBOX_QUEUED_TTL_SECONDS).
    OutboxMessage.objects.update(queued_until=None)
    namespace = new_namespace("bound")
    with own_simulator(tmp_path) as simulator:
        simulator.stop()
        env = stack_env(namespace=namespace, PROVIDER_API_BASE=simulator.url, OUTBOX_QUEUED_TTL_SECONDS="30")
        worker = CeleryWorker(env=env, schedule_dir=tmp_path, concurrency=CONCURRENCY)
        worker.start()
        try:
            rounds: dict[int, set] = {pk: set() for pk in OutboxMessage.objects.values_list("pk", flat=True)}
            peak = 0

            def deferred_three_times() -> bool:
                # Each release (a failed call or a breaker deferral) moves available_at; by three of them
                # per message the sweeper (every second) has run many times over the whole set.
                nonlocal peak
                peak = max(peak, queued_tasks(namespace))
                for pk, available_at in OutboxMessage.objects.values_list("pk", "available_at"):
                    rounds[pk].add(available_at)
                return all(len(seen) >= 4 for seen in rounds.values())

            wait_for(deferred_three_times, timeout=120, interval=0.1, message="every message to be put off 3 times")
            assert peak <= LIVE_BOUND, f"{peak} tasks queued for {N} messages"
            assert not OutboxMessage.objects.filter(status=OutboxStatus.DEAD).exists()

            simulator.start()  # same port

            def completed() -> int:
                nonlocal peak
                peak = max(peak, queued_tasks(namespace))
                return Refund.objects.filter(pk__in=[r.pk for r in refunds], state=RefundState.COMPLETED).count()

            wait_for_progress(completed, target=N, stall_timeout=60, message="refunds completed after the outage")
            assert peak <= LIVE_BOUND, f"{peak} tasks queued for {N} messages"
            for refund in refunds:
                assert len(simulator.refunds_for(refund.payment.provider_payment_id)) == 1
        finally:
            worker.stop()
            delete_queues(namespace)
            delete_cache_keys(namespace)
