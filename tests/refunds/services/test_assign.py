"""refund_assign: who may assign, to whom, and what it leaves alone (issue 12 item 7)."""

import pytest

from audit.models import AuditEvent
from core.errors import ERR_AUTHZ_ROLE, ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from refunds.enums import Reason, Role
from refunds.services.assign import refund_assign, senior_assignees
from refunds.services.decide import refund_deny
from refunds.signals import refund_assigned
from tests.refunds.factories import UserFactory, agent, captured_order, make_refund

pytestmark = pytest.mark.django_db


def waiting():
    return make_refund(order=captured_order(amount_minor=100000), amount_minor=5000, reason=Reason.GOODWILL)


def test_a_role_that_cannot_decide_cannot_assign():
    finance = agent("fin", Role.FINANCE)
    with pytest.raises(DomainError) as refused:
        refund_assign(refund_id=waiting().pk, assignee=finance.user, actor=finance)
    assert refused.value.code == ERR_AUTHZ_ROLE


def test_only_a_senior_can_be_given_a_refund_as_senior():
    me = agent("a1")
    with pytest.raises(DomainError) as refused:
        refund_assign(
            refund_id=waiting().pk, assignee=UserFactory(username="a2", role=Role.AGENT), actor=me, senior=True
        )
    assert refused.value.code == ERR_VALIDATION


def test_a_decided_refund_is_not_assigned():
    refund = waiting()
    refund_deny(refund_id=refund.pk, actor=agent("other"), note="No")
    me = agent("a1")
    with pytest.raises(DomainError) as refused:
        refund_assign(refund_id=refund.pk, assignee=me.user, actor=me)
    assert refused.value.code == ERR_CONFLICT_STATE


def test_the_senior_is_told_only_after_commit_and_assigning_again_is_a_no_op(django_capture_on_commit_callbacks):
    refund = waiting()
    senior = UserFactory(username="s1", role=Role.SENIOR_AGENT)
    heard = []
    refund_assigned.connect(lambda sender, **kwargs: heard.append(kwargs["assignee"]), weak=False, dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            refund_assign(refund_id=refund.pk, assignee=senior, actor=agent("a1"), senior=True)
        assert heard == []
        for callback in callbacks:
            callback()
        assert heard == [senior]
        refund_assign(refund_id=refund.pk, assignee=senior, actor=agent("a1"), senior=True)
    finally:
        refund_assigned.disconnect(dispatch_uid="t")
    assert AuditEvent.objects.filter(action="refund.assigned").count() == 1


def test_seniors_offered_exclude_agents_and_access_admins():
    UserFactory(username="s1", role=Role.SENIOR_AGENT)
    UserFactory(username="a1", role=Role.AGENT)
    UserFactory(username="acc", role=Role.ACCESS_ADMIN)
    assert [user.username for user in senior_assignees()] == ["s1"]
