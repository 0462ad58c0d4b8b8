from datetime import timedelta

import pytest
from django.utils import timezone

from refunds.enums import PolicyOutcome, PolicyStatus, Reason, Recommendation, RefundState
from refunds.limits import default_limits_table
from refunds.models import RefundPolicy
from refunds.services.policy import high_value_threshold_minor, policy_evaluate, policy_get_active
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


@pytest.mark.parametrize(("currency", "at", "over"), [("JPY", 30000, 30001), ("KWD", 60000, 60001)])
def test_goodwill_dual_control_threshold_is_set_per_currency(currency, at, over):
    # 200 USD ≈ 30,000 JPY ≈ 60.000 KWD: before, 200 applied as is, so 201 JPY (about 1.30 USD) needed two seniors.
    assert evaluate(reason=Reason.GOODWILL, amount_minor=at, currency=currency).approvals_required == 1
    assert evaluate(reason=Reason.GOODWILL, amount_minor=over, currency=currency).approvals_required == 2


def test_refund_keeps_the_policy_version_that_decided_it():
    order = captured_order(amount_minor=100000)
    first = make_refund(order=order, amount_minor=30000)
    limits = default_limits_table()
    limits["USD"]["other"] = 10000
    now = timezone.now()
    RefundPolicy.objects.create(
        version=2, limits=limits, status=PolicyStatus.APPROVED, reviewed_at=now, activates_at=now
    )
    second = make_refund(order=order, amount_minor=30000)
    assert first.policy_version.version == 1 and first.state == RefundState.APPROVED
    assert second.policy_version.version == 2 and second.state == RefundState.REQUESTED


def test_sixth_refund_of_a_customer_in_a_day_goes_to_review():
    order = captured_order(amount_minor=100000)
    refunds = [make_refund(order=order, amount_minor=100) for _ in range(6)]
    assert [r.policy_outcome for r in refunds[:5]] == [PolicyOutcome.AUTO_APPROVE] * 5
    assert refunds[5].policy_rule == "R-VELOCITY-24H"


@pytest.mark.parametrize(
    ("currency", "ceiling_minor"),
    [("USD", 50000), ("EUR", 46000), ("GBP", 40000), ("JPY", 75000), ("KWD", 150000), ("AED", 180000), ("SAR", 190000)],
)
def test_auto_approve_ceiling_is_set_per_currency(currency, ceiling_minor):
    at = evaluate(amount_minor=ceiling_minor, currency=currency)
    assert at.outcome == PolicyOutcome.AUTO_APPROVE
    assert evaluate(amount_minor=ceiling_minor + 1, currency=currency).rule == "R-CEILING-OTHER"


def test_a_kwd_refund_of_500_is_no_longer_auto_approved_and_4500_jpy_is():
    # The two cases: 500.000 KWD (about 1,600 USD) was auto-approved, 4,500 JPY (about 30 USD) was not.
    assert evaluate(amount_minor=500_000, currency="KWD").outcome == PolicyOutcome.REVIEW
    assert evaluate(amount_minor=4_500, currency="JPY").outcome == PolicyOutcome.AUTO_APPROVE


def test_default_limits_table_is_equivalent_in_every_shipped_currency():
    table = default_limits_table()
    assert {
        currency: (row["other"], row["goodwill_dual_control"], row["high_value"]) for currency, row in table.items()
    } == {
        "USD": (50000, 20000, 200000),
        "EUR": (46000, 18400, 184000),
        "GBP": (40000, 16000, 160000),
        "JPY": (75000, 30000, 300000),
        "KWD": (150000, 60000, 600000),
        "AED": (180000, 72000, 720000),
        "SAR": (190000, 76000, 760000),
    }


@pytest.mark.parametrize("reason", [Reason.OTHER, Reason.NOT_RECEIVED, Reason.DUPLICATE])
def test_above_the_high_value_threshold_every_reason_needs_two_approvals(reason):
    assert evaluate(reason=reason, amount_minor=200000).approvals_required == 1
    decision = evaluate(reason=reason, amount_minor=200001)
    assert (decision.outcome, decision.approvals_required) == (PolicyOutcome.REVIEW, 2)


def test_a_ceiling_above_the_high_value_threshold_still_reviews_high_value_refunds():
    policy = policy_get_active()
    policy.limits["USD"]["other"] = 500000
    payment = PaymentFactory.build(amount_minor=10**9, currency="USD", captured_at=timezone.now())
    kwargs = dict(policy=policy, payment=payment, reason=Reason.OTHER, has_evidence=False, customer_refunds_24h=0)
    assert policy_evaluate(amount_minor=200000, **kwargs).outcome == PolicyOutcome.AUTO_APPROVE
    decision = policy_evaluate(amount_minor=200001, **kwargs)
    assert decision.cited == "R-HIGH-VALUE-DUAL-CONTROL: refunds above 2000.00 USD need two senior approvals"
    assert (decision.outcome, decision.recommendation, decision.approvals_required) == (
        PolicyOutcome.REVIEW,
        Recommendation.APPROVE,
        2,
    )


def test_a_reviewed_high_value_refund_keeps_its_rule_and_names_the_second_approval():
    decision = evaluate(amount_minor=200001, days=61)
    assert decision.rule == "R-WINDOW-60D" and decision.approvals_required == 2
    assert decision.rule_text.endswith(
        "refunds above 2000.00 USD need two senior approvals (R-HIGH-VALUE-DUAL-CONTROL)"
    )


@pytest.mark.parametrize("reason", [Reason.OTHER, Reason.GOODWILL])
def test_a_currency_without_limits_is_reviewed_by_two_seniors(reason):
    decision = evaluate(amount_minor=100, currency="CHF", reason=reason)
    assert (decision.outcome, decision.approvals_required) == (PolicyOutcome.REVIEW, 2)
    if reason == Reason.OTHER:
        assert decision.cited == "R-CURRENCY-NO-LIMITS: no limits are set for CHF: its refunds are never auto-approved"


def test_an_empty_ceiling_cell_never_auto_approves_that_reason_in_that_currency():
    policy = policy_get_active()
    policy.limits["EUR"]["other"] = None
    payment = PaymentFactory.build(amount_minor=10**9, currency="EUR", captured_at=timezone.now())
    decision = policy_evaluate(
        policy=policy, payment=payment, amount_minor=1, reason=Reason.OTHER, has_evidence=False, customer_refunds_24h=0
    )
    assert decision.cited == "R-CEILING-OTHER: 'other' refunds in EUR are never auto-approved"


def test_high_value_threshold_minor_per_currency():
    policy = policy_get_active()
    assert high_value_threshold_minor(policy, "USD") == 200000
    assert high_value_threshold_minor(policy, "JPY") == 300000
    assert high_value_threshold_minor(policy, "KWD") == 600000
    assert high_value_threshold_minor(policy, "CHF") == 0  # no limits: every amount is high value
    policy.limits["GBP"]["high_value"] = None
    assert high_value_threshold_minor(policy, "GBP") is None  # risk switched it off for GBP
