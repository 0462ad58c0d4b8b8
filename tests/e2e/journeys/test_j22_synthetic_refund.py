"""Journey 22 (issue 16): the synthetic refund through a whole running system.

gunicorn, a Celery worker with beat, and the simulator sending webhooks. The command runs as
an operator runs it (`manage.py synthetic_refund`, a process of its own with the stack's
settings); beat runs it on its own with SYNTHETIC_ENABLED=1 and a short interval.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from operations.models import SyntheticRun
from operations.synthetic import STEPS
from refunds.models import Refund
from tests.support.child_process import ROOT
from tests.support.live import wait_for
from tests.support.stack import Stack

SYNTHETIC_ENV = {
    "SYNTHETIC_ENABLED": "1",
    "SYNTHETIC_INTERVAL_SECONDS": "8",
    "SYNTHETIC_STEP_TIMEOUT_SECONDS": "30",
}


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    # Three processes: a beat-run synthetic refund holds one while it waits for the others' deliveries.
    running = Stack(worker_concurrency=3, extra_env=SYNTHETIC_ENV).start()
    yield running
    running.stop()


def synthetic_refund(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "synthetic_refund", *args],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_command_takes_a_refund_through_every_step(stack, transactional_db):
    done = synthetic_refund(stack)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.split() for line in done.stdout.splitlines() if line.split() and line.split()[0] in STEPS]
    assert [(line[0], line[2]) for line in lines] == [(step, "ok") for step in STEPS]
    run = SyntheticRun.objects.filter(ok=True).get(refund_public_id__in=done.stdout.split())
    refund = Refund.objects.get(public_id=run.refund_public_id)
    assert refund.state == "completed" and refund.merchant.slug == "synthetic"
    assert [s["step"] for s in run.steps] == list(STEPS)
    at_provider = stack.simulator.refunds_for(refund.payment.provider_payment_id)
    assert [r["id"] for r in at_provider] == [refund.provider_refund_id]


def test_with_the_provider_down_it_exits_non_zero_naming_the_step(stack, transactional_db):
    stack.simulator.stop()
    try:
        done = synthetic_refund(stack, "--step-timeout", "5")
    finally:
        stack.simulator.start()

    assert done.returncode != 0
    assert "payment" in done.stdout and "FAILED provider stripe did not take the test payment" in done.stdout
    assert "synthetic refund failed at payment" in done.stderr


def test_beat_runs_it_on_its_own(stack, transactional_db):
    before = set(SyntheticRun.objects.values_list("pk", flat=True))

    def a_finished_beat_run() -> SyntheticRun | None:
        return SyntheticRun.objects.exclude(pk__in=before).filter(ok__isnull=False).order_by("pk").first()

    run = wait_for(a_finished_beat_run, timeout=120, interval=0.5, message="beat's synthetic refund")
    assert run.ok, run.error
    assert [s["step"] for s in run.steps] == list(STEPS)
