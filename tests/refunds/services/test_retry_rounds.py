"""A retry is a new provider refund: news of an earlier round never moves the refund (issue 12 review).

Round 1 fails (retryable), a senior retries from Needs action: round 2 is another provider
refund with another idempotency key. Found in review: round 1's provider id stayed on the
refund, so a repeat of round 1's failure arriving after round 2 paid was taken for a provider
reversal — the paid money became refundable again — and a finance replay of round 1's
dead-lettered call was sent while round 2 was out.
"""

from __future__ import annotations

import pytest

from core.errors import DomainError
from ledger.enums import EntryType
from ledger.models import JournalEntry
from providers.base import ProviderOutcome
from refunds.enums import OutboxStatus, RefundState, Role, WebhookStatus
from refunds.models import OutboxMessage, Refund
from refunds.services import submit as submit_service
from refunds.services.outbox import outbox_claim, outbox_replay
from refunds.services.outcome import refund_apply_outcome
from refunds.services.submit import refund_submit
from tests.refunds.factories import agent, submitted_refund
from tests.support.stripe_events import receive, refund_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_webhooks")]
S = RefundState


@pytest.fixture(autouse=True)
def no_inline_delivery(monkeypatch):
    monkeypatch.setattr(submit_service, "outbox_deliver", lambda *, message_id: "skipped")


def failed_round_one() -> Refund:
    """Sent (round 1, provider refund re_1), then failed for a reason a retry can fix."""
    refund = submitted_refund(amount_minor=3000)
    failure = refund_event(
        event_id="evt_r1_failed",
        provider_refund_id="re_1",
        status="failed",
        refund_id=refund.public_id,
        failure_reason="insufficient_funds",
    )
    assert receive(failure).status == WebhookStatus.PROCESSED
    refund.refresh_from_db()
    assert (refund.state, refund.failure_retryable, refund.provider_refund_id) == (S.FAILED, True, "re_1")
    return refund


def retried(refund: Refund) -> Refund:
    return refund_submit(refund_id=refund.pk, actor=agent("senior-retry", role=Role.SENIOR_AGENT))


def test_a_retry_forgets_the_last_rounds_provider_refund_and_keeps_it_as_history():
    refund = retried(failed_round_one())

    assert (refund.state, refund.submission_count) == (S.SUBMITTING, 2)
    assert refund.provider_refund_id is None
    assert refund.earlier_provider_refund_ids == ["re_1"]


def test_a_repeat_of_round_ones_failure_after_round_two_paid_changes_nothing():
    refund = retried(failed_round_one())
    paid = ProviderOutcome(status="succeeded", provider_refund_id="re_2", raw={"status": "succeeded"})
    refund, applied = refund_apply_outcome(refund_id=refund.pk, outcome=paid, source="api")
    assert applied and (refund.state, refund.provider_refund_id) == (S.COMPLETED, "re_2")

    # Stripe sends round 1's failure again, under the other event type.
    repeat = refund_event(
        event_id="evt_r1_failed_again",
        event_type="charge.refund.updated",
        provider_refund_id="re_1",
        status="failed",
        refund_id=refund.public_id,
        failure_reason="insufficient_funds",
    )
    assert receive(repeat).status == WebhookStatus.IGNORED

    refund.refresh_from_db()
    assert refund.state == S.COMPLETED and not refund.reversed_by_provider
    refund.payment.refresh_from_db()
    assert refund.payment.refund_reserved_minor == 3000  # the paid money stays taken
    assert not JournalEntry.objects.filter(refund=refund, entry_type=EntryType.REFUND_SETTLEMENT_REVERSED).exists()


def test_round_twos_own_webhooks_move_it_once_round_one_is_history():
    refund = retried(failed_round_one())

    done = refund_event(event_id="evt_r2_done", provider_refund_id="re_2", refund_id=refund.public_id)
    assert receive(done).status == WebhookStatus.PROCESSED

    refund.refresh_from_db()
    assert (refund.state, refund.provider_refund_id) == (S.COMPLETED, "re_2")


def test_an_earlier_rounds_answer_is_not_applied_to_the_later_round():
    refund = retried(failed_round_one())
    late = ProviderOutcome(
        status="failed", provider_refund_id="re_1", failure_code="insufficient_funds", retryable=True
    )

    refund, applied = refund_apply_outcome(refund_id=refund.pk, outcome=late, source="api")

    assert not applied and refund.state == S.SUBMITTING and refund.provider_refund_id is None


def test_round_ones_dead_letter_is_closed_by_the_retry_and_cannot_be_replayed():
    refund = submitted_refund(amount_minor=3000)
    first = OutboxMessage.objects.create(
        refund=refund,
        topic="refund.submit",
        idempotency_key=f"{refund.public_id}-1",
        payload={"refund_id": refund.public_id, "round": 1},
        status=OutboxStatus.DEAD,
    )
    failure = refund_event(
        event_id="evt_failed",
        provider_refund_id="re_1",
        status="failed",
        refund_id=refund.public_id,
        failure_reason="insufficient_funds",
    )
    assert receive(failure).status == WebhookStatus.PROCESSED
    retried(Refund.objects.get(pk=refund.pk))

    first.refresh_from_db()
    assert first.status == OutboxStatus.CANCELED and "superseded by submission round 2" in first.last_error
    first.status = OutboxStatus.DEAD  # as if it had been left dead-lettered
    first.save(update_fields=["status"])
    with pytest.raises(DomainError, match="pay the customer twice"):
        outbox_replay(message_id=first.pk, actor=agent("fin-replay", role=Role.FINANCE))


def test_a_queued_call_of_an_earlier_round_is_closed_not_sent():
    refund = retried(failed_round_one())
    stale = OutboxMessage.objects.create(
        refund=refund,
        topic="refund.submit",
        idempotency_key=f"{refund.public_id}-1-replayed",
        payload={"refund_id": refund.public_id, "round": 1},
    )

    assert outbox_claim(message_id=stale.pk) is None

    stale.refresh_from_db()
    assert stale.status == OutboxStatus.CANCELED
