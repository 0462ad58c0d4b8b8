"""SPEC §11 journey 10: reconciliation of a day with a planted mismatch → reported, exported as CSV.

Our side is built through the real services: refunds requested, delivered to
a real simulator process over the Stripe wire protocol, completed and settled
in the ledger. Two mismatches are planted the way they happen in life: the
provider refunds a different amount than we asked for, and someone refunds
from the provider's dashboard, outside our system. A refund the provider
created two days ago (simulated clock) must stay out of today. The day is
then reconciled from the simulator's list API and exported by a finance user.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from core.actor import Actor
from providers.registry import get_provider
from reconciliation.enums import ItemKind, RunSource, RunStatus
from reconciliation.models import ReconciliationItem
from reconciliation.services import reconciliation_run
from refunds.enums import Reason, RefundState, Role
from refunds.models import OutboxMessage
from refunds.services.outbox import outbox_claim, outbox_deliver
from refunds.services.outcome import refund_apply_outcome
from tests.refunds.factories import UserFactory, captured_order, make_refund
from tests.support.live import own_simulator, point_provider_at

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    """A simulator of our own: its list holds exactly the refunds of this journey."""
    with own_simulator(tmp_path_factory.mktemp("sim-j10")) as sim:
        yield sim


@pytest.fixture
def provider_settings(settings, simulator):
    point_provider_at(settings, simulator, timeout=2.0)
    return settings


def away_from_midnight() -> None:
    """Everything below must happen on one UTC day; wait out the last seconds of one."""
    now = timezone.now()
    to_midnight = (now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1) - now).total_seconds()
    if to_midnight < 60:
        time.sleep(to_midnight + 1)


def approved_refund(amount_minor: int):
    order = captured_order(amount_minor=10000, provider_payment_id=f"pi_sim_ok_{uuid.uuid4().hex[:16]}")
    refund = make_refund(order=order, amount_minor=amount_minor, reason=Reason.NOT_RECEIVED)
    assert refund.state == RefundState.APPROVED
    return refund


def test_a_day_with_planted_mismatches_is_reported_and_exported(provider_settings, simulator, client):
    away_from_midnight()
    day = timezone.now().date()
    provider = get_provider()

    # Three refunds the normal way: outbox delivery to the provider, completed, REFUND_SETTLED posted.
    delivered = []
    for amount in (1500, 2500, 4000):
        refund = approved_refund(amount)
        assert outbox_deliver(message_id=OutboxMessage.objects.get(refund=refund).pk) == "succeeded"
        refund.refresh_from_db()
        delivered.append(refund)

    # Planted 1: we asked for 30.00, the provider refunded 31.00 (and we recorded its answer as success).
    short = approved_refund(3000)
    assert outbox_claim(message_id=OutboxMessage.objects.get(refund=short).pk) is not None
    outcome = provider.execute_refund(
        payment_id=short.payment.provider_payment_id,
        amount_minor=3100,
        currency="USD",
        idempotency_key=f"planted-{short.public_id}",
        metadata={"refund_id": short.public_id},
    )
    short, applied = refund_apply_outcome(refund_id=short.pk, outcome=outcome, source="api")
    assert applied and short.state == RefundState.COMPLETED

    # Planted 2: a refund made in the provider's dashboard, unknown to us.
    dashboard = provider.execute_refund(
        payment_id="pi_sim_ok_dashboard",
        amount_minor=777,
        currency="USD",
        idempotency_key=f"dashboard-{uuid.uuid4().hex}",
        metadata={},
    )

    # Not today: created at the provider two days ago.
    requests.post(f"{simulator.url}/_sim/clock", data={"offset": str(-2 * 86400)}, timeout=5).raise_for_status()
    try:
        old = provider.execute_refund(
            payment_id="pi_sim_ok_old", amount_minor=999, currency="USD", idempotency_key="old-1", metadata={}
        )
    finally:
        requests.post(f"{simulator.url}/_sim/clock", data={"offset": "0"}, timeout=5).raise_for_status()

    finance = UserFactory(username="fiona", role=Role.FINANCE)
    run = reconciliation_run(day=day, provider="stripe", source=RunSource.API, actor=Actor.for_user(finance))

    # Reported.
    assert run.status == RunStatus.SUCCEEDED and run.is_current
    kinds = dict(ReconciliationItem.objects.filter(run=run).values_list("provider_refund_id", "kind"))
    assert kinds == {
        **{refund.provider_refund_id: ItemKind.MATCHED for refund in delivered},
        short.provider_refund_id: ItemKind.AMOUNT_MISMATCH,
        dashboard.provider_refund_id: ItemKind.MISSING_IN_LEDGER,
    }
    assert old.provider_refund_id not in kinds
    assert (run.item_count, run.exception_count, str(run.mismatch_rate_pct)) == (5, 2, "40.000")
    assert run.totals["USD"] == {
        "ledger_minor": 1500 + 2500 + 4000 + 3000,
        "ledger_count": 4,
        "provider_minor": 1500 + 2500 + 4000 + 3100 + 777,
        "provider_count": 5,
        "exceptions": 2,
        "difference_minor": 100 + 777,
    }

    # Exported as CSV by finance, through the finance screen's download.
    client.force_login(finance)
    page = client.get(f"/finance/runs/{run.pk}/").content.decode()
    assert short.provider_refund_id in page and dashboard.provider_refund_id in page
    response = client.get(f"/finance/runs/{run.pk}/export.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_id = {row["provider_refund_id"]: row for row in rows}
    assert len(rows) == 5
    assert {k: by_id[short.provider_refund_id][k] for k in ("kind", "refund_id", "our_amount", "provider_amount")} == {
        "kind": "amount_mismatch",
        "refund_id": short.public_id,
        "our_amount": "30.00",
        "provider_amount": "31.00",
    }
    assert by_id[short.provider_refund_id]["difference_minor"] == "100"
    stranger = by_id[dashboard.provider_refund_id]
    assert (
        stranger["kind"],
        stranger["refund_id"],
        stranger["provider_amount_minor"],
        stranger["provider_amount"],
    ) == (
        "missing_in_ledger",
        "",
        "777",
        "7.77",
    )
    assert {by_id[r.provider_refund_id]["kind"] for r in delivered} == {"matched"}
