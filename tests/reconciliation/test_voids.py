"""Voids (issue 15) are no refunds at the provider: reconciliation never looks for them there."""

import uuid

import pytest

from providers.base import ProviderOutcome
from reconciliation.enums import RunSource
from reconciliation.models import ReconciliationItem
from reconciliation.services import reconciliation_run
from refunds.enums import OutboxStatus, PaymentStatus, Reason, RefundInstrument, RefundState
from refunds.models import OutboxMessage
from refunds.services.outbox import outbox_claim
from refunds.services.outcome import refund_apply_outcome
from tests.reconciliation.factories import provider_report, provider_row, refund_settled, today
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def void(*, complete: bool):
    intent = f"pi_sim_ok_{uuid.uuid4().hex}"
    order = captured_order(
        amount_minor=3000, status=PaymentStatus.AUTHORIZED, captured_at=None, provider_payment_id=intent
    )
    refund = make_refund(order=order, amount_minor=3000, reason=Reason.NOT_RECEIVED)
    assert refund.instrument == RefundInstrument.VOID
    assert outbox_claim(message_id=OutboxMessage.objects.get(refund=refund, status=OutboxStatus.PENDING).pk)
    if complete:
        outcome = ProviderOutcome(status="succeeded", provider_refund_id=intent)
        refund, applied = refund_apply_outcome(refund_id=refund.pk, outcome=outcome, source="test")
        assert applied and refund.state == RefundState.COMPLETED
    return refund


@pytest.mark.parametrize("complete", [True, False], ids=["completed", "out_at_the_provider"])
def test_a_void_is_never_missing_at_the_provider_nor_a_mismatch(system_actor, complete):
    voided = void(complete=complete)
    listed = refund_settled()

    run = reconciliation_run(
        day=today(),
        provider="stripe",
        source=RunSource.FILE,
        file=provider_report([provider_row(listed)]),
        actor=system_actor,
    )

    assert not ReconciliationItem.objects.filter(run=run, refund=voided).exists()
    assert run.totals["USD"]["difference_minor"] == 0
