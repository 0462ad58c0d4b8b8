"""Submitting now, and retrying a retryable failure: new round, new key, never for a payout settled by hand."""

from __future__ import annotations

import logging

import pytest

from core.actor import Actor
from refunds.enums import RefundState, Role
from refunds.models import Refund
from refunds.services import submit as submit_service
from refunds.services.payout import payout_mark_paid
from refunds.services.submit import refund_submit
from tests.refunds.factories import agent, move_refund, submitted_refund

pytestmark = pytest.mark.django_db
S = RefundState
SYSTEM = Actor.system("test")


def test_a_retry_logs_the_idempotency_key_of_its_new_round(monkeypatch, caplog, django_capture_on_commit_callbacks):
    """Operators match a retry's log line to the provider's records by its new round's key."""
    refund = submitted_refund()
    refund = move_refund(refund, S.FAILED, changes={"failure_code": "insufficient_funds", "failure_retryable": True})
    monkeypatch.setattr(submit_service, "outbox_deliver", lambda *, message_id: "skipped")

    with caplog.at_level(logging.INFO, logger="refunds"), django_capture_on_commit_callbacks(execute=True):
        refund_submit(refund_id=refund.pk, actor=SYSTEM)
    lines = [r for r in caplog.records if getattr(r, "message_id", "") == "MSG.refund.submitted"]
    assert lines, "no MSG.refund.submitted line"
    assert getattr(lines[-1], "idempotency_key", None) == f"{refund.public_id}-2"


def test_retrying_a_failed_refund_of_a_payment_settled_by_hand_does_not_strand_it(settings, monkeypatch):
    """A payout settled by hand has no provider message to push: the retry is refused, nothing moves.

    Were it sent down the outbox path, its payout task's id would be taken for
    an outbox message id (acting on some other refund's message) and the
    refund left `submitting` with a payout task `payout_mark_paid` can never
    complete.
    """
    refund = submitted_refund(provider="manual")
    refund = move_refund(refund, S.FAILED, changes={"failure_code": "insufficient_funds", "failure_retryable": True})
    delivered: list[int] = []
    monkeypatch.setattr(submit_service, "outbox_deliver", lambda *, message_id: delivered.append(message_id))

    try:
        refund_submit(refund_id=refund.pk, actor=SYSTEM)
    except Exception:  # noqa: BLE001 - refusing the retry is an acceptable fix too
        assert Refund.objects.get(pk=refund.pk).state == S.FAILED
        return
    assert delivered == [], "a payout task's pk was delivered as an outbox message id"
    paid = payout_mark_paid(refund_id=refund.pk, actor=agent("fin", Role.FINANCE), reference="BANK-1")
    assert paid.state == S.COMPLETED
