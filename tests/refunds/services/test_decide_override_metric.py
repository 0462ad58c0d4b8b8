"""`refund_policy_overrides_total`: a person's final decision against the policy's recommendation, once."""

from __future__ import annotations

import pytest

from refunds.enums import Reason, Recommendation, RefundState, Role
from refunds.models import Refund
from refunds.services.decide import refund_approve, refund_deny
from tests.refunds.factories import agent, captured_order, make_refund
from tests.support.samples import Delta

pytestmark = pytest.mark.django_db


def reviewed(*, recommendation: str, amount_minor: int = 5000, order_amount: int = 10000) -> Refund:
    refund = make_refund(
        order=captured_order(amount_minor=order_amount), amount_minor=amount_minor, reason=Reason.GOODWILL
    )
    assert refund.state == RefundState.REQUESTED
    Refund.objects.filter(pk=refund.pk).update(recommendation=recommendation)
    return refund


def test_denying_what_the_policy_recommends_approving_is_one_override(django_capture_on_commit_callbacks):
    overrides = Delta("refund_policy_overrides_total", decision="deny")
    refund = reviewed(recommendation=Recommendation.APPROVE)
    with django_capture_on_commit_callbacks(execute=True):
        refund_deny(refund_id=refund.pk, actor=agent(), note="Not eligible.")
        refund_deny(refund_id=refund.pk, actor=agent(), note="Not eligible.")  # already denied: unchanged
    assert overrides.now() == 1


def test_approving_against_a_decline_recommendation_counts_on_the_deciding_approval(
    django_capture_on_commit_callbacks,
):
    overrides = Delta("refund_policy_overrides_total", decision="approve")
    refund = reviewed(recommendation=Recommendation.DECLINE, amount_minor=25000, order_amount=100000)
    assert refund.approvals_required == 2
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=agent("s1", Role.SENIOR_AGENT))
    assert overrides.now() == 0  # one of two: nothing decided yet
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=agent("s2", Role.SENIOR_AGENT))
    assert overrides.now() == 1


def test_following_the_recommendation_is_no_override(django_capture_on_commit_callbacks):
    approvals, denials = (Delta("refund_policy_overrides_total", decision=d) for d in ("approve", "deny"))
    approve = reviewed(recommendation=Recommendation.APPROVE)
    decline = reviewed(recommendation=Recommendation.DECLINE)
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=approve.pk, actor=agent())
        refund_deny(refund_id=decline.pk, actor=agent("other"), note="As the policy says.")
    assert (approvals.now(), denials.now()) == (0, 0)
