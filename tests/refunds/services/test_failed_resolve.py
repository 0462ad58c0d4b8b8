"""Resolving a failed refund from Needs action (issue 12): retry with a new attempt, or cancel and notify.

Who: senior agents, finance and admins (`resolve_failed`); an agent is refused.
Each goes through `refund_transition` (audit, ledger, email in one transaction).
"""

from __future__ import annotations

import pytest

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.errors import ERR_AUTHZ_ROLE, DomainError
from ledger.enums import EntryType
from ledger.models import JournalEntry
from ledger.services import trial_balance
from notifications.messages import MSG_CANCELED, MSG_PROCESSING
from notifications.models import CustomerEmail
from refunds.enums import OutboxStatus, RefundState, Role
from refunds.models import OutboxMessage
from refunds.services import submit as submit_service
from refunds.services.cancel import refund_cancel
from refunds.services.submit import refund_submit
from tests.refunds.factories import agent, move_refund, submitted_refund

pytestmark = pytest.mark.django_db
S = RefundState


@pytest.fixture
def no_inline_delivery(monkeypatch):
    """The retry's one inline delivery attempt is the outbox's subject, not this module's."""
    monkeypatch.setattr(submit_service, "outbox_deliver", lambda *, message_id: "skipped")


def failed_refund(*, retryable: bool):
    refund = submitted_refund(amount_minor=3000)
    code = "insufficient_funds" if retryable else "expired_or_canceled_card"
    return move_refund(refund, S.FAILED, changes={"failure_code": code, "failure_retryable": retryable})


def entry_types(refund) -> list[str]:
    return list(JournalEntry.objects.filter(refund=refund).order_by("pk").values_list("entry_type", flat=True))


@pytest.mark.parametrize("role", [Role.SENIOR_AGENT, Role.FINANCE])
def test_a_senior_or_finance_retries_a_retryable_failure_with_a_new_attempt(role, no_inline_delivery):
    refund = failed_refund(retryable=True)

    refund = refund_submit(refund_id=refund.pk, actor=agent(f"resolver-{role}", role=role))

    assert (refund.state, refund.submission_count) == (S.SUBMITTING, 2)
    message = OutboxMessage.objects.get(refund=refund, status=OutboxStatus.PENDING)
    assert message.idempotency_key == f"{refund.public_id}-2"
    refund.payment.refresh_from_db()
    assert refund.payment.refund_reserved_minor == 3000  # held again for the new attempt
    assert AuditEvent.objects.filter(refund=refund, action=AuditAction.REFUND_RETRY_SUBMITTED).count() == 1
    assert CustomerEmail.objects.filter(refund=refund, message_id=MSG_PROCESSING).count() == 1


def test_an_agent_cannot_retry_a_failed_refund(no_inline_delivery):
    refund = failed_refund(retryable=True)

    with pytest.raises(DomainError) as error:
        refund_submit(refund_id=refund.pk, actor=agent("plain-agent"))

    assert error.value.code == ERR_AUTHZ_ROLE
    refund.refresh_from_db()
    assert refund.state == S.FAILED


def test_canceling_a_retryable_failure_reverses_the_pending_entry_and_emails_the_customer():
    refund = failed_refund(retryable=True)
    assert entry_types(refund) == [EntryType.REFUND_PENDING]

    refund_cancel(refund_id=refund.pk, actor=agent("senior-1", role=Role.SENIOR_AGENT), note="card closed")

    refund.refresh_from_db()
    assert refund.state == S.CANCELED
    assert entry_types(refund) == [EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED]
    refund.payment.refresh_from_db()
    assert refund.payment.refund_reserved_minor == 0
    assert set(trial_balance().values()) == {0}
    assert CustomerEmail.objects.filter(refund=refund, message_id=MSG_CANCELED).count() == 1
    event = AuditEvent.objects.get(refund=refund, action=AuditAction.REFUND_FAILURE_CANCELED)
    assert event.note == "card closed"


def test_canceling_a_terminal_failure_posts_no_second_reversal():
    refund = failed_refund(retryable=False)
    assert entry_types(refund) == [EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED]

    refund_cancel(refund_id=refund.pk, actor=agent("finance-1", role=Role.FINANCE))

    refund.refresh_from_db()
    assert refund.state == S.CANCELED
    assert entry_types(refund) == [EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED]


def test_an_agent_cannot_cancel_a_failed_refund():
    refund = failed_refund(retryable=False)

    with pytest.raises(DomainError) as error:
        refund_cancel(refund_id=refund.pk, actor=agent("plain-agent"))

    assert error.value.code == ERR_AUTHZ_ROLE
    refund.refresh_from_db()
    assert refund.state == S.FAILED
