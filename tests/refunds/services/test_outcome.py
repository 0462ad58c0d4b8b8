"""Applying a provider's answer: the move it makes and what the audit trail learns from it."""

from __future__ import annotations

import pytest

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.actor import Actor
from providers.base import ProviderOutcome
from refunds.enums import RefundState
from refunds.services.outcome import refund_apply_outcome
from tests.refunds.factories import submitted_refund

pytestmark = pytest.mark.django_db
S = RefundState
SYSTEM = Actor.system("test")


def test_the_audit_event_of_a_provider_answer_shows_the_provider_refund_id_it_taught_us():
    """The id learnt from an answer is part of the move: before without it, after with it.

    Otherwise the audit trail (and the console timeline, whose change list
    includes provider_refund_id) could not show when, and from which source
    (api, webhook, poll), we learnt the provider's id.
    """
    refund = submitted_refund()

    refund_apply_outcome(
        refund_id=refund.pk,
        outcome=ProviderOutcome(status="succeeded", provider_refund_id="re_learnt", raw={"status": "succeeded"}),
        source="webhook",
    )

    event = AuditEvent.objects.get(refund=refund, action=AuditAction.REFUND_COMPLETED)
    assert event.after["provider_refund_id"] == "re_learnt"
    assert not event.before["provider_refund_id"], "the before snapshot already carries the id it just learnt"
