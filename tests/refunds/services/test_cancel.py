import pytest

from core.errors import ERR_AUTHZ_ROLE, ERR_CONFLICT_STATE, ERR_NOT_FOUND, DomainError
from ledger.enums import EntryType
from ledger.models import JournalEntry
from refunds.enums import OutboxStatus, Reason, RefundState, Role
from refunds.models import OutboxMessage, Refund
from refunds.services.cancel import refund_cancel
from refunds.services.merchants import merchant_create, merchant_get
from tests.refunds.factories import agent, captured_order, make_refund, merchant_system

pytestmark = pytest.mark.django_db


def test_cancel_of_requested_refund_releases_amount_without_ledger():
    order = captured_order(amount_minor=50000)
    refund = make_refund(order=order, amount_minor=30000, reason=Reason.GOODWILL)
    canceled = refund_cancel(refund_id=refund.pk, actor=merchant_system())
    assert canceled.state == RefundState.CANCELED
    assert canceled.payment.remaining_refundable_minor == 50000
    assert not JournalEntry.objects.filter(refund=refund).exists()


def test_cancel_after_approval_reverses_the_ledger_and_the_outbox():
    order = captured_order(amount_minor=10000)
    refund = make_refund(order=order, amount_minor=4000)
    refund_cancel(refund_id=refund.pk, actor=merchant_system(), note="customer changed their mind")
    types = set(JournalEntry.objects.filter(refund=refund).values_list("entry_type", flat=True))
    assert types == {EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED}
    assert OutboxMessage.objects.get(refund=refund).status == OutboxStatus.CANCELED


def test_cancel_after_submission_is_refused():
    order = captured_order(amount_minor=10000)
    refund = make_refund(order=order, amount_minor=4000)
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING)
    with pytest.raises(DomainError) as error:
        refund_cancel(refund_id=refund.pk, actor=merchant_system())
    assert error.value.code == ERR_CONFLICT_STATE


def test_cancel_twice_is_idempotent():
    order = captured_order(amount_minor=10000)
    refund = make_refund(order=order, amount_minor=4000)
    refund_cancel(refund_id=refund.pk, actor=merchant_system())
    again = refund_cancel(refund_id=refund.pk, actor=merchant_system())
    assert again.state == RefundState.CANCELED
    assert again.payment.remaining_refundable_minor == 10000


# --- who may cancel (issue 10 item 3) ----------------------------------------------------


def test_a_key_of_another_merchant_is_told_the_refund_does_not_exist(system_actor):
    merchant_create(slug="globex", actor=system_actor)
    refund = make_refund(order=captured_order(), amount_minor=4000, reason=Reason.GOODWILL)
    with pytest.raises(DomainError) as error:
        refund_cancel(refund_id=refund.pk, actor=merchant_system("globex-system", merchant="globex"))
    assert error.value.code == ERR_NOT_FOUND
    assert Refund.objects.get(pk=refund.pk).state == RefundState.REQUESTED


def test_staff_need_the_decide_permission_to_cancel():
    refund = make_refund(order=captured_order(), amount_minor=4000, reason=Reason.GOODWILL)
    with pytest.raises(DomainError) as error:
        refund_cancel(refund_id=refund.pk, actor=agent("fin", Role.FINANCE))
    assert error.value.code == ERR_AUTHZ_ROLE
    assert refund_cancel(refund_id=refund.pk, actor=agent()).state == RefundState.CANCELED


def test_staff_cancel_refunds_of_every_merchant(system_actor):
    merchant_create(slug="globex", actor=system_actor)
    order = captured_order(order__merchant=merchant_get(slug="globex"))
    refund = make_refund(order=order, amount_minor=4000, reason=Reason.GOODWILL)
    assert refund_cancel(refund_id=refund.pk, actor=agent()).state == RefundState.CANCELED
