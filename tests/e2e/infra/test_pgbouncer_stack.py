"""The whole stack through PgBouncer in transaction pooling mode (docs/operations.md "Connection pooling").

gunicorn (two workers) and a Celery worker with beat reach the test database
only through a real PgBouncer (`pool_mode = transaction`, three server
sessions for all of them: tests/support/pgbouncer.py), with the settings
DATABASE_POOLER=pgbouncer gives, and DATABASE_DIRECT_URL for the one session
lock (the synthetic run's). More clients than server sessions: consecutive
transactions of one process run on different sessions, so anything that
leaked session state across transactions would break here.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from core.actor import Actor
from core.errors import ERR_EXCEEDS_REMAINING
from ledger.services import trial_balance
from operations.models import SyntheticRun
from operations.synthetic import STEPS
from refunds.enums import PauseKind, RefundState
from refunds.models import Payment, Refund
from refunds.services.pauses import pause, resume
from tests.refunds.factories import api_key
from tests.support import live
from tests.support.child_process import ROOT
from tests.support.live import ApiClient, wait_for
from tests.support.merchant import push_order, refund_body, wait_state
from tests.support.stack import Stack

OPERATOR = Actor.system("system:e2e-operator")


@pytest.fixture
def pooled(transactional_db, django_db_setup, pgbouncer):
    """A stack whose every database connection goes through the module's PgBouncer; stopped before the flush."""
    name = settings.DATABASES["default"]["NAME"]
    stack = Stack(
        worker_concurrency=2,
        extra_env={
            "DATABASE_URL": pgbouncer.url(name),
            "DATABASE_POOLER": "pgbouncer",
            "DATABASE_DIRECT_URL": live.test_database_url(),
        },
    ).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def pooled_relay(transactional_db, django_db_setup, pgbouncer):
    """The pooled stack with OUTBOX_HANDOFF=relay; beat's sweeps and the relay's poll an hour away."""
    name = settings.DATABASES["default"]["NAME"]
    hour = "3600"
    stack = Stack(
        worker_concurrency=2,
        handoff="relay",
        extra_env={
            "DATABASE_URL": pgbouncer.url(name),
            "DATABASE_POOLER": "pgbouncer",
            "DATABASE_DIRECT_URL": live.test_database_url(),
            "OUTBOX_SWEEP_SECONDS": hour,
            "EMAIL_SWEEP_SECONDS": hour,
            "WEBHOOK_SWEEP_SECONDS": hour,
            "OUTBOX_RELAY_POLL_SECONDS": hour,
        },
    ).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def merchant(pooled) -> ApiClient:
    return ApiClient(pooled.url, api_key("pooled-merchant"))


def test_a_refund_is_auto_approved_and_completed_through_the_pooler(pooled, merchant, pgbouncer):
    name = settings.DATABASES["default"]["NAME"]
    before = pgbouncer.transactions(name)
    order_id, payment_id = push_order(merchant, amount_minor=10000)

    created = merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(10000), **{"Idempotency-Key": "pooled-1"})
    assert created.status_code == 202, created.text
    assert created.json()["state"] == RefundState.APPROVED

    refund = wait_state(merchant, created.json()["refund_id"], {RefundState.COMPLETED})
    assert [e["type"] for e in refund["ledger_entries"]] == ["REFUND_PENDING", "REFUND_SETTLED"]
    assert [r["id"] for r in pooled.simulator.refunds_for(payment_id)] == [refund["provider_refund_id"]]
    assert set(trial_balance().values()) <= {0}
    # The app's processes really went through the pooler, on at most its three server sessions.
    wait_for(lambda: pgbouncer.transactions(name) > before + 20, timeout=10, message="the pooler's counts")
    assert pgbouncer.show("CLIENTS", name)
    assert len(pgbouncer.show("SERVERS", name)) <= pgbouncer.pool_size


def test_concurrent_creates_over_one_payment_through_the_pooler_never_over_refund(pooled, merchant):
    orders = [push_order(merchant, amount_minor=10000) for _ in range(5)]
    attempts = [(order_id, n) for order_id, _ in orders for n in range(3)]

    def create(attempt: tuple[str, int]):
        order_id, n = attempt
        return order_id, merchant.post(
            f"/v1/orders/{order_id}/refunds", refund_body(6000), **{"Idempotency-Key": f"{order_id}-{n}"}
        )

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        answers = list(pool.map(create, attempts))

    for order_id, _ in orders:
        statuses = sorted(response.status_code for o, response in answers if o == order_id)
        assert statuses == [202, 400, 400], (order_id, [r.text for o, r in answers if o == order_id])
    refused = [response.json()["code"] for _, response in answers if response.status_code == 400]
    assert set(refused) == {ERR_EXCEEDS_REMAINING}
    for payment in Payment.objects.filter(order__order_id__in=[order_id for order_id, _ in orders]):
        assert payment.refunds.aggregate(total=Sum("amount_minor"))["total"] == 6000
    accepted = [response.json()["refund_id"] for _, response in answers if response.status_code == 202]
    for refund_id in accepted:
        wait_state(merchant, refund_id, {RefundState.COMPLETED}, timeout=60)


def test_the_auto_approval_pause_holds_through_the_pooler(pooled, merchant):
    (held_order, _), (later_order, _) = push_order(merchant, amount_minor=2000), push_order(merchant, amount_minor=2000)
    answers = {}

    def create(order_id: str) -> None:
        answers[order_id] = merchant.post(
            f"/v1/orders/{order_id}/refunds", refund_body(2000), **{"Idempotency-Key": f"paused-{order_id}"}
        )

    # The pause is being set (its exclusive advisory lock held, not committed yet) when a create that
    # the policy would approve arrives through the pooler: it waits for the switch, then sees it set
    # (refunds/0031: the read after the wait takes a snapshot of its own; tests/refunds/services/test_pause_race.py).
    with transaction.atomic():
        pause(PauseKind.AUTO_APPROVAL, provider="stripe", reason="e2e: behind the pooler", actor=OPERATOR)
        waiting = threading.Thread(target=create, args=(held_order,))
        waiting.start()
        time.sleep(1.5)
        assert waiting.is_alive(), "the create did not wait for the switch being set"
    waiting.join(timeout=30)

    assert answers[held_order].status_code == 202, answers[held_order].text
    assert answers[held_order].json()["state"] == RefundState.REQUESTED  # held for a person: the pause held
    resume(PauseKind.AUTO_APPROVAL, provider="stripe", reason="e2e: resumed", actor=OPERATOR)
    create(later_order)
    assert answers[later_order].json()["state"] == RefundState.APPROVED
    wait_state(merchant, answers[later_order].json()["refund_id"], {RefundState.COMPLETED})
    assert Refund.objects.get(public_id=answers[held_order].json()["refund_id"]).state == RefundState.REQUESTED


def test_the_synthetic_refund_runs_through_the_pooler_with_its_lock_on_the_direct_line(pooled):
    done = subprocess.run(
        [sys.executable, "manage.py", "synthetic_refund"],
        cwd=ROOT,
        env={**pooled.env, "SYNTHETIC_STEP_TIMEOUT_SECONDS": "30"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.split() for line in done.stdout.splitlines() if line.split() and line.split()[0] in STEPS]
    assert [(line[0], line[2]) for line in lines] == [(step, "ok") for step in STEPS]
    assert SyntheticRun.objects.filter(ok=True).count() == 1


def test_the_relay_listens_on_the_direct_line_and_is_woken_through_the_pooler(pooled_relay):
    """Creates commit through PgBouncer; their NOTIFY reaches the relay's LISTEN on DATABASE_DIRECT_URL.

    A LISTEN through the pooler would sit on a server session other clients use and hear nothing:
    with beat's sweeps and the relay's poll an hour away, the refund would never be sent.
    """
    merchant = ApiClient(pooled_relay.url, api_key("pooled-relay-merchant"))
    order_id, payment_id = push_order(merchant, amount_minor=10000)

    created = merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(4000), **{"Idempotency-Key": "relay-1"})
    assert created.status_code == 202, created.text
    assert created.json()["state"] == RefundState.APPROVED

    refund = wait_state(merchant, created.json()["refund_id"], {RefundState.COMPLETED})
    assert [r["id"] for r in pooled_relay.simulator.refunds_for(payment_id)] == [refund["provider_refund_id"]]
