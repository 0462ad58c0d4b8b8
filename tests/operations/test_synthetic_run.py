"""The synthetic refund's steps against the real simulator, without a worker (issue 16).

With no Celery worker consuming this session's queues the outbox is never delivered: the run
gets through payment, create and decision, then fails at `provider`, which is exactly what an
operator must see when the workers are down. The full journey runs in
tests/e2e/journeys/test_j22_synthetic_refund.py against a whole stack.
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from operations.models import SyntheticRun
from operations.synthetic import synthetic_refund_run
from refunds.enums import RefundState
from refunds.models import Merchant, Refund
from tests.support.live import own_simulator, point_provider_at

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    with own_simulator(tmp_path_factory.mktemp("synthetic-sim")) as sim:
        yield sim


@pytest.fixture
def provider(settings, simulator):
    point_provider_at(settings, simulator, timeout=2.0)
    settings.SYNTHETIC_PROVIDER = ""
    return simulator


def test_no_worker_fails_at_the_provider_step_with_a_recorded_run(provider, capsys):
    with pytest.raises(CommandError, match="failed at provider"):
        call_command("synthetic_refund", "--step-timeout", "0.5")

    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == ["payment", "create", "decision", "provider"]
    assert [line.split()[2] for line in printed] == ["ok", "ok", "ok", "FAILED"]
    run = SyntheticRun.objects.get()
    assert run.ok is False and run.finished_at is not None
    assert [(s["step"], s["ok"]) for s in run.steps] == [
        ("payment", True),
        ("create", True),
        ("decision", True),
        ("provider", False),
    ]
    assert run.error.startswith("provider: timed out after 0.5s")
    assert "outbox pending" in run.error
    refund = Refund.objects.get(public_id=run.refund_public_id)
    assert refund.merchant.slug == "synthetic" and refund.order.order_id.startswith("SYN-")
    assert refund.payment.provider_payment_id.startswith("pi_sim_ok_")
    assert refund.customer_email == ""  # no customer e-mail for a synthetic refund


def test_the_test_payment_exists_at_the_provider(provider):
    run = synthetic_refund_run(step_timeout=0.2)
    payment_id = Refund.objects.get(public_id=run.refund_public_id).payment.provider_payment_id
    intent = provider.request("GET", f"/v1/payment_intents/{payment_id}").json()
    assert intent["status"] == "succeeded" and intent["amount_received"] == 100


def test_sent_to_review_fails_at_decision_and_leaves_nothing_to_work(provider, settings):
    settings.SYNTHETIC_AMOUNT_MINOR = 50_000_000  # above every review threshold: the policy asks a person

    run = synthetic_refund_run(step_timeout=0.5)

    assert run.ok is False
    assert [s["step"] for s in run.steps] == ["payment", "create", "decision"]
    assert run.error.startswith("decision: not auto-approved, sent to review")
    assert Refund.objects.get(public_id=run.refund_public_id).state == RefundState.CANCELED


def test_runs_reuse_the_synthetic_merchant(provider):
    synthetic_refund_run(step_timeout=0.2)
    synthetic_refund_run(step_timeout=0.2)
    assert Merchant.objects.filter(slug="synthetic").count() == 1
    assert SyntheticRun.objects.count() == 2


def test_last_shows_the_latest_runs(provider, capsys):
    synthetic_refund_run(step_timeout=0.2)
    capsys.readouterr()
    call_command("synthetic_refund", "--last")
    out = capsys.readouterr().out
    assert "FAILED" in out and "provider:" in out and "payment=" in out
