import pytest

from core.errors import ERR_AUTHZ_ROLE, ERR_VALIDATION, DomainError
from ledger.enums import EntryType
from ledger.models import JournalEntry
from refunds.enums import PayoutStatus, RefundState, Role
from refunds.models import OutboxMessage, PayoutTask
from refunds.services.cancel import refund_cancel
from refunds.services.payout import payout_mark_paid
from tests.refunds.factories import agent, captured_order, make_refund, merchant_system

pytestmark = pytest.mark.django_db


@pytest.fixture
def manual(settings):
    settings.PROVIDER = "manual"


def test_manual_provider_approval_creates_a_payout_task_not_an_outbox_message(manual):
    refund = make_refund(order=captured_order(), amount_minor=2500)
    assert PayoutTask.objects.get(refund=refund).status == PayoutStatus.OPEN
    assert not OutboxMessage.objects.filter(refund=refund).exists()


def test_finance_marks_paid_with_a_reference_which_completes_the_refund(manual):
    refund = make_refund(order=captured_order(), amount_minor=2500)

    paid = payout_mark_paid(refund_id=refund.pk, actor=agent("fin", Role.FINANCE), reference="BANK-123")

    assert paid.state == RefundState.COMPLETED
    task = PayoutTask.objects.get(refund=refund)
    assert (task.status, task.reference, task.paid_by.username) == (PayoutStatus.PAID, "BANK-123", "fin")
    assert JournalEntry.objects.filter(refund=refund, entry_type=EntryType.REFUND_SETTLED).exists()


def test_payout_needs_a_reference_and_the_finance_role(manual):
    refund = make_refund(order=captured_order(), amount_minor=2500)
    with pytest.raises(DomainError) as error:
        payout_mark_paid(refund_id=refund.pk, actor=agent("fin", Role.FINANCE), reference=" ")
    assert error.value.code == ERR_VALIDATION
    with pytest.raises(DomainError) as error:
        payout_mark_paid(refund_id=refund.pk, actor=agent(), reference="X")
    assert error.value.code == ERR_AUTHZ_ROLE


def test_canceling_an_approved_manual_refund_cancels_its_payout(manual):
    refund = make_refund(order=captured_order(), amount_minor=2500)
    refund_cancel(refund_id=refund.pk, actor=merchant_system())
    assert PayoutTask.objects.get(refund=refund).status == PayoutStatus.CANCELED
