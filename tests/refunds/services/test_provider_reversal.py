"""A provider failure after completion (issue 12): `completed → failed`, the settlement reversed, the customer told."""

from __future__ import annotations

import json

import pytest
from django.db.models import Sum

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.errors import InvalidTransition
from ledger.enums import EntryType
from ledger.models import JournalEntry, Posting
from ledger.services import trial_balance
from notifications.messages import MSG_CANCELED, MSG_REVERSED
from notifications.models import CustomerEmail
from refunds.enums import RefundState, Role, WebhookStatus
from refunds.models import Refund
from refunds.services.cancel import refund_cancel
from tests.refunds.factories import agent, merchant_system, submitted_refund
from tests.support.stripe_events import receive, refund_event, refund_event_body

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_webhooks")]

S = RefundState


def completed_refund() -> Refund:
    """Sent, then completed by the provider's webhook: REFUND_PENDING and REFUND_SETTLED posted."""
    refund = submitted_refund(amount_minor=3000)
    done = refund_event(event_id="evt_done", provider_refund_id="re_1", refund_id=refund.public_id)
    assert receive(done).status == WebhookStatus.PROCESSED
    refund.refresh_from_db()
    assert refund.state == S.COMPLETED
    return refund


def reversal(refund: Refund, *, event_id: str = "evt_reversed", event_type: str = "refund.updated") -> bytes:
    return refund_event(
        event_id=event_id,
        event_type=event_type,
        provider_refund_id="re_1",
        status="failed",
        refund_id=refund.public_id,
        failure_reason="expired_or_canceled_card",
    )


def entry_types(refund: Refund) -> list[str]:
    return list(JournalEntry.objects.filter(refund=refund).order_by("pk").values_list("entry_type", flat=True))


def test_a_failed_event_for_a_completed_refund_moves_it_to_failed_and_reverses_the_settlement():
    refund = completed_refund()

    assert receive(reversal(refund)).status == WebhookStatus.PROCESSED

    refund.refresh_from_db()
    assert (refund.state, refund.failure_code, refund.failure_retryable) == (
        S.FAILED,
        "expired_or_canceled_card",
        False,
    )
    assert refund.reversed_by_provider
    assert entry_types(refund) == [
        EntryType.REFUND_PENDING,
        EntryType.REFUND_SETTLED,
        EntryType.REFUND_SETTLEMENT_REVERSED,
        EntryType.REFUND_REVERSED,
    ]
    event = AuditEvent.objects.get(refund=refund, action=AuditAction.REFUND_PROVIDER_REVERSED)
    assert event.flagged and (event.before["state"], event.after["state"]) == (S.COMPLETED, S.FAILED)


def test_the_reversal_is_balanced_and_nets_every_account_of_the_refund_to_zero():
    refund = completed_refund()
    receive(reversal(refund))

    settled = JournalEntry.objects.get(refund=refund, entry_type=EntryType.REFUND_SETTLED)
    undone = JournalEntry.objects.get(refund=refund, entry_type=EntryType.REFUND_SETTLEMENT_REVERSED)
    assert undone.amount_minor == settled.amount_minor == refund.amount_minor
    assert sorted(undone.postings.values_list("account_id", "amount_minor")) == sorted(
        (account, -amount) for account, amount in settled.postings.values_list("account_id", "amount_minor")
    )
    per_account = Posting.objects.filter(entry__refund=refund).values("account_id").annotate(total=Sum("amount_minor"))
    assert {row["account_id"]: row["total"] for row in per_account} == dict.fromkeys(
        {row["account_id"] for row in per_account}, 0
    )
    assert set(trial_balance().values()) == {0}


def test_the_reversal_releases_the_money_held_for_the_refund():
    refund = completed_refund()
    assert refund.payment.remaining_refundable_minor == 10000 - 3000

    receive(reversal(refund))

    refund.payment.refresh_from_db()
    assert refund.payment.refund_reserved_minor == 0
    assert refund.payment.remaining_refundable_minor == 10000


def test_every_event_of_one_reversal_applies_it_once_and_emails_the_customer_once():
    # Stripe tells one reversal several ways (refund.updated, charge.refund.updated), and may replay each.
    refund = completed_refund()
    results = [
        receive(reversal(refund, event_id="evt_a")).status,
        receive(reversal(refund, event_id="evt_b", event_type="charge.refund.updated")).status,
        receive(reversal(refund, event_id="evt_a")).status,
    ]

    assert results == [WebhookStatus.PROCESSED, WebhookStatus.IGNORED, "duplicate"]
    assert JournalEntry.objects.filter(refund=refund, entry_type=EntryType.REFUND_SETTLEMENT_REVERSED).count() == 1
    assert AuditEvent.objects.filter(refund=refund, action=AuditAction.REFUND_PROVIDER_REVERSED).count() == 1
    emails = CustomerEmail.objects.filter(refund=refund, message_id=MSG_REVERSED)
    assert list(emails.values_list("event", flat=True)) == [AuditAction.REFUND_FAILED]


def test_a_failure_older_than_the_completion_is_stale_and_changes_nothing():
    refund = completed_refund()
    body = refund_event_body(event_id="evt_old", provider_refund_id="re_1", status="failed", refund_id=refund.public_id)
    body["created"] -= 120

    assert receive(json.dumps(body).encode()).status == WebhookStatus.IGNORED

    refund.refresh_from_db()
    assert refund.state == S.COMPLETED
    assert EntryType.REFUND_SETTLEMENT_REVERSED not in entry_types(refund)


def test_a_failed_event_of_another_provider_refund_is_held_not_a_reversal():
    refund = completed_refund()
    other = refund_event(event_id="evt_x", provider_refund_id="re_other", status="failed", refund_id=refund.public_id)

    assert receive(other).status == WebhookStatus.HELD

    refund.refresh_from_db()
    assert refund.state == S.COMPLETED


def test_a_reversed_refund_canceled_from_needs_action_posts_nothing_more_and_sends_the_cancel_email():
    refund = completed_refund()
    receive(reversal(refund))
    before = entry_types(refund)

    refund_cancel(refund_id=refund.pk, actor=agent("finance-1", role=Role.FINANCE), note="paid by bank transfer")

    refund.refresh_from_db()
    assert refund.state == S.CANCELED
    assert entry_types(refund) == before
    assert CustomerEmail.objects.filter(refund=refund, message_id=MSG_CANCELED).count() == 1
    assert AuditEvent.objects.filter(refund=refund, action=AuditAction.REFUND_FAILURE_CANCELED).count() == 1
    assert set(trial_balance().values()) == {0}


def test_a_merchant_key_still_cannot_cancel_a_failed_refund():
    refund = completed_refund()
    receive(reversal(refund))

    with pytest.raises(InvalidTransition):
        refund_cancel(refund_id=refund.pk, actor=merchant_system())
