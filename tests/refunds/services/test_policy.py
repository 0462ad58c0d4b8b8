from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.enums import PolicyOutcome, Reason, Recommendation, RefundState
from refunds.models import RefundPolicy
from refunds.services.policy import policy_evaluate, policy_get_active
from tests.refunds.factories import PaymentFactory, captured_order, make_refund

pytestmark = pytest.mark.django_db


def evaluate(*, amount_minor=1000, reason=Reason.OTHER, evidence=False, velocity=0, days=1, currency="USD"):
    payment = PaymentFactory.build(
        amount_minor=10**9, currency=currency, captured_at=timezone.now() - timedelta(days=days)
    )
    return policy_evaluate(
        policy=policy_get_active(),
        payment=payment,
        amount_minor=amount_minor,
        reason=reason,
        has_evidence=evidence,
        customer_refunds_24h=velocity,
    )


def test_default_policy_auto_approves_up_to_500_within_60_days():
    decision = evaluate(amount_minor=50000)
    assert decision.outcome == PolicyOutcome.AUTO_APPROVE
    assert decision.cited == (
        "R-AUTO-OTHER: 'other' refunds up to 500.00 USD within 60 days of capture are approved automatically"
    )


def test_above_the_ceiling_is_reviewed_with_an_approve_recommendation():
    decision = evaluate(amount_minor=50001)
    assert (decision.outcome, decision.rule, decision.recommendation) == (
        PolicyOutcome.REVIEW,
        "R-CEILING-OTHER",
        Recommendation.APPROVE,
    )


def test_outside_the_window_is_reviewed_and_decline_recommended():
    decision = evaluate(days=61)
    assert decision.rule == "R-WINDOW-60D"
    assert decision.rule_text == "refunds within 60 days of capture"
    assert decision.recommendation == Recommendation.DECLINE


def test_quality_needs_evidence():
    assert evaluate(reason=Reason.QUALITY).rule == "R-EVIDENCE-QUALITY"
    assert evaluate(reason=Reason.QUALITY, evidence=True).outcome == PolicyOutcome.AUTO_APPROVE


def test_velocity_reviews_from_the_sixth_refund_in_24h():
    assert evaluate(velocity=4).outcome == PolicyOutcome.AUTO_APPROVE
    assert evaluate(velocity=5).rule == "R-VELOCITY-24H"


def test_goodwill_is_always_reviewed_and_needs_two_seniors_above_200():
    assert evaluate(reason=Reason.GOODWILL, amount_minor=20000).approvals_required == 1
    decision = evaluate(reason=Reason.GOODWILL, amount_minor=20001)
    assert (decision.rule, decision.approvals_required) == ("R-GOODWILL-DUAL-CONTROL", 2)


@pytest.mark.parametrize(("currency", "at", "over"), [("JPY", 200, 201), ("KWD", 200000, 200001)])
def test_threshold_applies_in_the_order_currency(currency, at, over):
    assert evaluate(reason=Reason.GOODWILL, amount_minor=at, currency=currency).approvals_required == 1
    assert evaluate(reason=Reason.GOODWILL, amount_minor=over, currency=currency).approvals_required == 2


def test_refund_keeps_the_policy_version_that_decided_it():
    order = captured_order(amount_minor=100000)
    first = make_refund(order=order, amount_minor=30000)
    RefundPolicy.objects.create(
        version=2, auto_approve_ceilings={"other": "100.00"}, dual_control_threshold=Decimal("200.00")
    )
    second = make_refund(order=order, amount_minor=30000)
    assert first.policy_version.version == 1 and first.state == RefundState.APPROVED
    assert second.policy_version.version == 2 and second.state == RefundState.REQUESTED


def test_sixth_refund_of_a_customer_in_a_day_goes_to_review():
    order = captured_order(amount_minor=100000)
    refunds = [make_refund(order=order, amount_minor=100) for _ in range(6)]
    assert [r.policy_outcome for r in refunds[:5]] == [PolicyOutcome.AUTO_APPROVE] * 5
    assert refunds[5].policy_rule == "R-VELOCITY-24H"


def test_limits_with_more_decimals_than_the_currency_round_down():
    policy = policy_get_active()
    policy.dual_control_threshold = Decimal("199.99")
    payment = PaymentFactory.build(amount_minor=10**9, currency="JPY", captured_at=timezone.now())
    kwargs = dict(policy=policy, payment=payment, reason=Reason.GOODWILL, has_evidence=False, customer_refunds_24h=0)
    assert policy_evaluate(amount_minor=199, **kwargs).approvals_required == 1
    assert policy_evaluate(amount_minor=200, **kwargs).approvals_required == 2
