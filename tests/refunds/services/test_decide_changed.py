"""Issue 10 item 8: an approval is about the refund the checker saw; the maker never edits their own.

`refund_approve` takes the version (and/or amount) the approver saw and
refuses, under the row lock, when the refund changed since; every edit and
every move bumps the version.
"""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from core.errors import ERR_AUTHZ_MAKER_CHECKER, ERR_CONFLICT_CHANGED, DomainError
from refunds.enums import DecisionKind, Reason, RefundState, Role
from refunds.models import Decision, Refund
from refunds.services.decide import refund_approve, refund_deny, refund_edit
from tests.refunds.factories import agent, captured_order, make_refund

pytestmark = pytest.mark.django_db


def ten_dollars(by=None) -> Refund:
    order = captured_order(amount_minor=50000)
    return make_refund(order=order, amount_minor=1000, reason=Reason.GOODWILL, actor=by or agent("maker"))


def version_of(refund: Refund) -> int:
    return Refund.objects.values_list("version", flat=True).get(pk=refund.pk)


def test_the_requester_may_not_edit_their_own_refund():
    maker = agent("maker")
    refund = ten_dollars(by=maker)
    with pytest.raises(DomainError) as error:
        refund_edit(refund_id=refund.pk, actor=maker, amount_minor=19900)
    assert error.value.code == ERR_AUTHZ_MAKER_CHECKER
    assert Refund.objects.get(pk=refund.pk).amount_minor == 1000
    assert not Decision.objects.filter(refund=refund, kind=DecisionKind.EDIT).exists()


def test_an_approval_of_the_version_before_an_edit_is_refused_and_nothing_moves():
    refund = ten_dollars()
    seen = version_of(refund)
    refund_edit(refund_id=refund.pk, actor=agent("other"), amount_minor=19900)
    with pytest.raises(DomainError) as error:
        refund_approve(refund_id=refund.pk, actor=agent("senior", Role.SENIOR_AGENT), expected_version=seen)
    assert (error.value.code, error.value.http_status) == (ERR_CONFLICT_CHANGED, 409)
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.REQUESTED, 19900)
    assert not Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).exists()


def test_an_approval_naming_another_amount_is_refused():
    refund = ten_dollars()
    refund_edit(refund_id=refund.pk, actor=agent("other"), amount_minor=19900)
    with pytest.raises(DomainError) as error:
        refund_approve(refund_id=refund.pk, actor=agent("senior", Role.SENIOR_AGENT), expected_amount_minor=1000)
    assert error.value.code == ERR_CONFLICT_CHANGED
    assert Refund.objects.get(pk=refund.pk).state == RefundState.REQUESTED


def test_an_approval_of_the_current_version_and_amount_goes_through():
    refund = ten_dollars()
    refund_edit(refund_id=refund.pk, actor=agent("other"), amount_minor=19900)
    approved = refund_approve(
        refund_id=refund.pk,
        actor=agent("senior", Role.SENIOR_AGENT),
        expected_version=version_of(refund),
        expected_amount_minor=19900,
    )
    assert (approved.state, approved.amount_minor) == (RefundState.APPROVED, 19900)


def test_every_edit_and_every_move_bumps_the_version_and_a_first_of_two_approvals_does_not():
    refund = ten_dollars()
    first = version_of(refund)
    refund_edit(refund_id=refund.pk, actor=agent("other"), reply="A kinder reply.")
    assert version_of(refund) == first + 1
    refund_edit(refund_id=refund.pk, actor=agent("other"), amount_minor=25000)  # now above the dual-control line
    assert version_of(refund) == first + 2
    refund_approve(refund_id=refund.pk, actor=agent("s1", Role.SENIOR_AGENT), expected_version=first + 2)
    # The second senior saw the same terms as the first: the recorded approval changed none of them.
    assert version_of(refund) == first + 2
    refund_approve(refund_id=refund.pk, actor=agent("s2", Role.SENIOR_AGENT), expected_version=first + 2)
    assert version_of(refund) == first + 3
    assert AuditEvent.objects.filter(refund=refund, action="refund.approved").exists()


def test_a_deny_moves_the_version_too():
    refund = ten_dollars()
    before = version_of(refund)
    refund_deny(refund_id=refund.pk, actor=agent("other"), note="No.")
    assert version_of(refund) == before + 1


def test_a_repeated_approval_of_an_approved_refund_is_answered_unchanged():
    """Idempotent retries stay idempotent: the approval itself moved the version."""
    refund = ten_dollars()
    seen = version_of(refund)
    senior = agent("senior", Role.SENIOR_AGENT)
    refund_approve(refund_id=refund.pk, actor=senior, expected_version=seen, expected_amount_minor=1000)
    again = refund_approve(refund_id=refund.pk, actor=senior, expected_version=seen, expected_amount_minor=1000)
    assert again.state == RefundState.APPROVED
    # …but not for another amount than the one approved.
    with pytest.raises(DomainError) as error:
        refund_approve(refund_id=refund.pk, actor=senior, expected_amount_minor=19900)
    assert error.value.code == ERR_CONFLICT_CHANGED
