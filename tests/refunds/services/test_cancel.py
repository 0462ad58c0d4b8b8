import pytest

from core.errors import ERR_CONFLICT_STATE, DomainError
from ledger.enums import EntryType
from ledger.models import JournalEntry
from refunds.enums import OutboxStatus, Reason, RefundState
from refunds.models import OutboxMessage, Refund
from refunds.services.cancel import refund_cancel
from tests.refunds.factories import captured_order, make_refund, requester

pytestmark = pytest.mark.django_db


def test_cancel_of_requested_refund_releases_amount_without_ledger():
    order = captured_order(amount_minor=50000)
    refund = make_refund(order=order, amount_minor=30000, reason=Reason.GOODWILL)
    canceled = refund_cancel(refund_id=refund.pk, actor=requester())
    assert canceled.state == RefundState.CANCELED
    assert canceled.payment.remaining_refundable_minor == 50000
    assert not JournalEntry.objects.filter(refund=refund).exists()


def test_cancel_after_approval_reverses_the_ledger_and_the_outbox():
    order = captured_order(amount_minor=10000)
    refund = make_refund(order=order, amount_minor=4000)
    refund_cancel(refund_id=refund.pk, actor=requester(), note="customer changed their mind")
    types = set(JournalEntry.objects.filter(refund=refund).values_list("entry_type", flat=True))
    assert types == {EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED}
    assert OutboxMessage.objects.get(refund=refund).status == OutboxStatus.CANCELED


def test_cancel_after_submission_is_refused():
    order = captured_order(amount_minor=10000)
    refund = make_refund(order=order, amount_minor=4000)
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING)
    with pytest.raises(DomainError) as error:
        refund_cancel(refund_id=refund.pk, actor=requester())
    assert error.value.code == ERR_CONFLICT_STATE


def test_cancel_twice_is_idempotent():
    order = captured_order(amount_minor=10000)
    refund = make_refund(order=order, amount_minor=4000)
    refund_cancel(refund_id=refund.pk, actor=requester())
    again = refund_cancel(refund_id=refund.pk, actor=requester())
    assert again.state == RefundState.CANCELED
    assert again.payment.remaining_refundable_minor == 10000
