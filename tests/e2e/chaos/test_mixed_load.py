"""200 refunds through 2 workers, every simulator mode: each ends where it should, once, balanced."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from django.db.models import Q

from audit.models import AuditEvent, AuditPending, AuditSeal
from audit.services import audit_verify
from ledger.services import trial_balance
from refunds.enums import OutboxStatus, RefundState
from refunds.models import OutboxMessage, Refund
from tests.support.live import wait_for, wait_for_progress
from tests.support.merchant import create_refund, push_order

MODES = ["ok"] * 8 + ["async"] * 3 + ["fail"] * 3 + ["timeout"] * 3 + ["5xx"] * 3
EXPECTED = {
    "ok": RefundState.COMPLETED,
    "async": RefundState.COMPLETED,
    "timeout": RefundState.COMPLETED,
    "5xx": RefundState.COMPLETED,
    "fail": RefundState.FAILED,
}


def test_two_hundred_refunds_through_two_workers(own_stack, chaos_client):
    own_stack.add_worker(beat=False)
    plan = [MODES[n % len(MODES)] for n in range(200)]

    def one(mode: str) -> tuple[str, str, str]:
        order_id, payment_id = push_order(chaos_client, mode=mode, amount_minor=1000)
        return mode, payment_id, create_refund(chaos_client, order_id, 1000)

    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(one, plan))

    ids = [refund_id for _, _, refund_id in created]
    terminal = Q(state=RefundState.COMPLETED) | Q(state=RefundState.FAILED)
    # Every refund must end; how fast is the benchmarks' business (benchmarks/e2e_latency.py).
    wait_for_progress(
        lambda: Refund.objects.filter(public_id__in=ids).filter(terminal).count(),
        target=200,
        message="refunds finished",
    )

    states = dict(Refund.objects.filter(public_id__in=ids).values_list("public_id", "state"))
    wrong = [(mode, rid, states[rid]) for mode, _, rid in created if states[rid] != EXPECTED[mode]]
    assert wrong == []
    per_payment = Counter()
    for _, payment_id, _ in created:
        per_payment[payment_id] = len(own_stack.simulator.refunds_for(payment_id))
    assert set(per_payment.values()) == {1}
    assert trial_balance() == {"USD": 0}
    wait_for(
        lambda: not OutboxMessage.objects.filter(refund__public_id__in=ids, status=OutboxStatus.PENDING).exists(),
        timeout=30,
        message="the outbox to drain",
    )
    assert not OutboxMessage.objects.filter(refund__public_id__in=ids, status=OutboxStatus.DEAD).exists()
    # The beat of the first worker seals the audit trail as it grows: the whole chain is intact.
    wait_for(lambda: not AuditPending.objects.exists(), timeout=60, message="the audit sealer to catch up")
    assert list(audit_verify()) == []
    assert AuditSeal.objects.count() == AuditEvent.objects.count()
