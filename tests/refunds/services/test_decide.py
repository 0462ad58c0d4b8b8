import pytest

from audit.models import AuditEvent
from core.errors import (
    ERR_AUTHZ_DUAL_CONTROL,
    ERR_AUTHZ_MAKER_CHECKER,
    ERR_AUTHZ_ROLE,
    ERR_CONFLICT_STATE,
    ERR_DECLINE_REASON_REQUIRED,
    ERR_EXCEEDS_REMAINING,
    DomainError,
)
from ledger.enums import EntryType
from ledger.models import JournalEntry
from refunds.enums import Reason, RefundState, Role
from refunds.models import OutboxMessage
from refunds.services.decide import refund_approve, refund_deny, refund_edit
from tests.refunds.factories import agent, captured_order, make_refund, requester

pytestmark = pytest.mark.django_db


def goodwill(amount_minor=25000, order_amount=100000, by=None):
    order = captured_order(amount_minor=order_amount)
    return make_refund(order=order, amount_minor=amount_minor, reason=Reason.GOODWILL, actor=by or requester())


def assert_refused(code, fn, **kwargs):
    with pytest.raises(DomainError) as error:
        fn(**kwargs)
    assert error.value.code == code


def test_agent_approves_a_reviewed_refund_which_posts_and_queues_it():
    refund = goodwill(amount_minor=5000)
    approved = refund_approve(refund_id=refund.pk, actor=agent(), note="ok")
    assert approved.state == RefundState.APPROVED
    assert JournalEntry.objects.filter(refund=refund, entry_type=EntryType.REFUND_PENDING).exists()
    assert OutboxMessage.objects.filter(refund=refund).count() == 1


def test_requester_can_never_approve_their_own_refund():
    maker = agent("maker", Role.SENIOR_AGENT)
    refund = goodwill(amount_minor=5000, by=maker)
    assert_refused(ERR_AUTHZ_MAKER_CHECKER, refund_approve, refund_id=refund.pk, actor=maker)


def test_user_without_decide_permission_is_refused():
    refund = goodwill(amount_minor=5000)
    assert_refused(ERR_AUTHZ_ROLE, refund_approve, refund_id=refund.pk, actor=agent("finance", Role.FINANCE))


def test_dual_control_one_senior_approval_leaves_it_requested():
    refund = goodwill()
    result = refund_approve(refund_id=refund.pk, actor=agent("s1", Role.SENIOR_AGENT))
    assert result.state == RefundState.REQUESTED
    assert AuditEvent.objects.filter(refund=refund, action="refund.approval_recorded").get().note.startswith("1 of 2")
    assert not JournalEntry.objects.filter(refund=refund).exists()


def test_dual_control_second_different_senior_approves():
    refund = goodwill()
    refund_approve(refund_id=refund.pk, actor=agent("s1", Role.SENIOR_AGENT))
    result = refund_approve(refund_id=refund.pk, actor=agent("s2", Role.SENIOR_AGENT))
    assert result.state == RefundState.APPROVED


def test_second_approval_by_same_senior_is_refused():
    refund = goodwill()
    senior = agent("s1", Role.SENIOR_AGENT)
    refund_approve(refund_id=refund.pk, actor=senior)
    assert_refused(ERR_AUTHZ_DUAL_CONTROL, refund_approve, refund_id=refund.pk, actor=senior)


def test_dual_control_needs_seniors_not_agents():
    refund = goodwill()
    assert_refused(ERR_AUTHZ_ROLE, refund_approve, refund_id=refund.pk, actor=agent())


def test_approving_an_approved_refund_again_is_idempotent():
    refund = goodwill(amount_minor=5000)
    refund_approve(refund_id=refund.pk, actor=agent())
    again = refund_approve(refund_id=refund.pk, actor=agent("other"))
    assert again.state == RefundState.APPROVED
    assert OutboxMessage.objects.filter(refund=refund).count() == 1


def test_decline_needs_a_reason():
    refund = goodwill(amount_minor=5000)
    assert_refused(ERR_DECLINE_REASON_REQUIRED, refund_deny, refund_id=refund.pk, actor=agent(), note="  ")


def test_decline_releases_the_amount_and_flags_an_override():
    refund = goodwill(amount_minor=5000, order_amount=10000)
    denied = refund_deny(refund_id=refund.pk, actor=agent(), note="Not eligible: outside goodwill budget")
    assert denied.state == RefundState.DENIED
    assert denied.override_flagged  # goodwill recommends approve
    denied.payment.refresh_from_db()
    assert denied.payment.remaining_refundable_minor == 10000
    assert AuditEvent.objects.get(refund=refund, action="refund.denied").flagged


def test_cannot_approve_a_denied_refund():
    refund = goodwill(amount_minor=5000)
    refund_deny(refund_id=refund.pk, actor=agent(), note="no")
    assert_refused(ERR_CONFLICT_STATE, refund_approve, refund_id=refund.pk, actor=agent("other"))


def test_edit_changes_amount_and_reply_and_records_both_drafts():
    refund = goodwill(amount_minor=5000, order_amount=10000)
    edited = refund_edit(refund_id=refund.pk, actor=agent(), amount_minor=8000, reply="We refund 80.00.")
    assert (edited.amount_minor, edited.draft_reply) == (8000, "We refund 80.00.")
    event = AuditEvent.objects.get(refund=refund, action="refund.edited")
    assert event.before["amount_minor"] == 5000 and event.after["amount_minor"] == 8000
    assert event.before["draft_reply"] != event.after["draft_reply"]
    edited.payment.refresh_from_db()
    assert edited.payment.remaining_refundable_minor == 2000


def test_edit_above_remaining_is_refused():
    refund = goodwill(amount_minor=5000, order_amount=10000)
    assert_refused(ERR_EXCEEDS_REMAINING, refund_edit, refund_id=refund.pk, actor=agent(), amount_minor=10001)


def test_editing_goodwill_over_the_threshold_requires_dual_control():
    refund = goodwill(amount_minor=5000)
    edited = refund_edit(refund_id=refund.pk, actor=agent(), amount_minor=30000)
    assert edited.approvals_required == 2


@pytest.mark.parametrize(("currency", "threshold"), [("USD", 200000), ("JPY", 300000), ("KWD", 600000)])
def test_editing_any_reason_over_the_high_value_threshold_requires_dual_control(currency, threshold):
    # Quality without evidence is reviewed (R-EVIDENCE-QUALITY) with one approval.
    order = captured_order(amount_minor=threshold * 2, currency=currency)
    refund = make_refund(order=order, amount_minor=100, reason=Reason.QUALITY)
    assert refund.approvals_required == 1
    assert refund_edit(refund_id=refund.pk, actor=agent(), amount_minor=threshold).approvals_required == 1
    assert refund_edit(refund_id=refund.pk, actor=agent(), amount_minor=threshold + 1).approvals_required == 2
    assert refund_edit(refund_id=refund.pk, actor=agent(), amount_minor=threshold).approvals_required == 1


def test_edit_after_a_first_approval_is_refused():
    refund = goodwill()
    refund_approve(refund_id=refund.pk, actor=agent("s1", Role.SENIOR_AGENT))
    assert_refused(ERR_CONFLICT_STATE, refund_edit, refund_id=refund.pk, actor=agent(), amount_minor=100)
