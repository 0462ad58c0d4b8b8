"""Both kill switches under load through a real stack (issue 16): nothing lost, nothing twice, order kept.

Pauses are set by the test process on the stack's database (the service the
console and `manage.py refunds_pause` call); the web and worker processes
read them there, as in production.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.actor import Actor
from refunds.enums import OutboxStatus, PauseKind, PolicyOutcome, RefundState
from refunds.models import OutboxMessage, Refund
from refunds.services.pauses import pause, resume
from tests.refunds.factories import api_key
from tests.support.live import ApiClient, wait_for, wait_for_progress
from tests.support.merchant import create_refund, push_order
from tests.support.stack import Stack

OPERATOR = Actor.system("system:e2e-operator")
N = 30


def simulator_calls(simulator) -> list[str]:
    """Every refund the simulator was asked for, as the payments refunded, oldest call first."""
    calls, after = [], None
    while True:
        params = {"limit": 100, **({"starting_after": after} if after else {})}
        response = simulator.request("GET", "/v1/refunds", params=params)
        response.raise_for_status()
        page = response.json()
        calls += [r["payment_intent"] for r in page["data"]]
        if not page["has_more"]:
            return list(reversed(calls))
        after = page["data"][-1]["id"]


@pytest.fixture
def one_slot_stack(transactional_db, django_db_setup):
    """One worker process with one slot takes the queue in order, so the order the provider sees is the order
    resume queued (with several, the calls start in order and may finish in any). Stopped before the flush."""
    running = Stack(worker_concurrency=1).start()
    yield running
    running.stop()


def test_submission_paused_holds_every_approved_refund_and_resume_sends_each_once_in_outbox_order(one_slot_stack):
    own_stack = one_slot_stack
    chaos_client = ApiClient(own_stack.url, api_key("chaos-merchant"))
    pause(PauseKind.SUBMISSION, provider="stripe", reason="e2e: provider incident", actor=OPERATOR)
    orders = [push_order(chaos_client, mode="ok", amount_minor=2000) for _ in range(N)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        refund_ids = list(pool.map(lambda order: create_refund(chaos_client, order[0], 2000), orders))

    # Every delivery task ran and was held: its mark consumed, no attempt used, and the sweeper (beat,
    # in the worker) does not queue them again.
    messages = OutboxMessage.objects.filter(refund__public_id__in=refund_ids)
    wait_for(
        lambda: messages.count() == N and not messages.filter(queued_until__isnull=False).exists(),
        timeout=60,
        message="every delivery task to run and hold its message",
    )
    time.sleep(3)  # a few sweeps (every second in the stack) and redeliveries would show here
    assert simulator_calls(own_stack.simulator) == []
    assert set(Refund.objects.filter(public_id__in=refund_ids).values_list("state", flat=True)) == {
        RefundState.APPROVED
    }
    assert set(messages.values_list("status", "attempts")) == {(OutboxStatus.PENDING, 0)}
    outbox_order = list(
        messages.order_by("available_at", "id").values_list("refund__payment__provider_payment_id", flat=True)
    )

    resumed = resume(PauseKind.SUBMISSION, provider="stripe", reason="e2e: provider back", actor=OPERATOR)

    assert resumed.counts == {"queued": N}
    completed = Refund.objects.filter(public_id__in=refund_ids, state=RefundState.COMPLETED)
    wait_for_progress(completed.count, target=N, stall_timeout=60, message="every held refund to complete")
    calls = simulator_calls(own_stack.simulator)
    assert sorted(calls) == sorted(payment_id for _, payment_id in orders)  # none lost, none twice
    assert calls == outbox_order


def test_auto_approval_paused_during_concurrent_creates_sends_what_it_covers_to_review(own_stack, chaos_client):
    orders = [push_order(chaos_client, mode="ok", amount_minor=2000) for _ in range(3 * N)]
    log: list[tuple[float, float, str]] = []  # (sent, answered, refund id), monotonic
    lock = threading.Lock()
    pending = iter(orders)

    def creator() -> None:
        while True:
            with lock:
                order = next(pending, None)
            if order is None:
                return
            sent = time.monotonic()
            refund_id = create_refund(chaos_client, order[0], 2000)
            with lock:
                log.append((sent, time.monotonic(), refund_id))

    def created() -> int:
        with lock:
            return len(log)

    threads = [threading.Thread(target=creator) for _ in range(6)]
    for thread in threads:
        thread.start()
    wait_for(lambda: created() >= 10, timeout=60, message="creates before the pause")
    pause(PauseKind.AUTO_APPROVAL, reason="e2e: fraud wave", actor=OPERATOR)
    paused_at = time.monotonic()
    wait_for(lambda: created() >= 45, timeout=60, message="creates while paused")
    resuming_at = time.monotonic()
    resume(PauseKind.AUTO_APPROVAL, reason="e2e: over", actor=OPERATOR)
    resumed_at = time.monotonic()
    for thread in threads:
        thread.join(timeout=120)

    refunds = {r.public_id: r for r in Refund.objects.filter(public_id__in=[entry[2] for entry in log])}
    during = [refunds[rid] for sent, answered, rid in log if sent > paused_at and answered < resuming_at]
    after = [refunds[rid] for sent, _, rid in log if sent > resumed_at]
    before = [refunds[rid] for _, answered, rid in log if answered < paused_at]
    assert during and after and before
    # Sent after the pause returned and answered before the resume began: to review, saying why.
    assert {(r.state, r.policy_outcome) for r in during} == {(RefundState.REQUESTED, PolicyOutcome.REVIEW)}
    assert all(r.policy_rule_text.startswith("auto-approval paused by operations") for r in during)
    assert not OutboxMessage.objects.filter(refund__in=during).exists()
    # Before and after: the policy approves on its own again.
    for refund in before + after:
        assert refund.policy_outcome == PolicyOutcome.AUTO_APPROVE, refund.public_id
