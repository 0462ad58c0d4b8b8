"""Applying a provider's answer: the move it makes and what the audit trail learns from it."""

from __future__ import annotations

import pytest
from django.db import transaction

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.actor import Actor
from providers.base import ProviderOutcome
from refunds.enums import Reason, RefundState
from refunds.models import Refund
from refunds.services.outcome import refund_apply_outcome
from refunds.services.transition import refund_lock, refund_transition
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db
S = RefundState
SYSTEM = Actor.system("test")


def move(refund: Refund, to: str, **kwargs) -> Refund:
    with transaction.atomic():
        locked, payment = refund_lock(refund_id=refund.pk)
        refund_transition(locked, payment=payment, to=to, actor=SYSTEM, **kwargs)
    return locked


def submitted(amount_minor: int = 3000) -> Refund:
    """A reviewed refund, approved and claimed for submission, whose provider id we never learned."""
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=amount_minor, reason=Reason.GOODWILL)
    for state in (S.APPROVED, S.SUBMITTING):
        refund = move(refund, state)
    assert not refund.provider_refund_id
    return refund


def test_the_audit_event_of_a_provider_answer_shows_the_provider_refund_id_it_taught_us():
    """Old outcome.py took the `before` snapshot BEFORE setting the learnt provider refund id.

    Now the id is set on the refund before `refund_transition` snapshots it, so
    before == after for provider_refund_id: the audit trail (and the console
    timeline, whose change list includes provider_refund_id) no longer shows
    when and from which source we learnt the provider's id.
    """
    refund = submitted()

    refund_apply_outcome(
        refund_id=refund.pk,
        outcome=ProviderOutcome(status="succeeded", provider_refund_id="re_learnt", raw={"status": "succeeded"}),
        source="webhook",
    )

    event = AuditEvent.objects.get(refund=refund, action=AuditAction.REFUND_COMPLETED)
    assert event.after["provider_refund_id"] == "re_learnt"
    assert not event.before["provider_refund_id"], "the before snapshot already carries the id it just learnt"
