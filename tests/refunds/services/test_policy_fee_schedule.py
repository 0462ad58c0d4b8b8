"""The cancellation fee schedule for bookings (SPEC §3.2): ≥7 days 100 %, 2–7 days 50 %, later 0 %."""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from refunds.enums import PolicyOutcome, Reason, Recommendation, RefundState
from refunds.services.decide import refund_deny
from refunds.services.policy import fee_tier, policy_get_active
from tests.refunds.factories import agent, captured_order, make_refund

pytestmark = pytest.mark.django_db

DEFAULT_SCHEDULE = [{"min_days": 7, "percent": 100}, {"min_days": 2, "percent": 50}, {"min_days": 0, "percent": 0}]


def booking(*, starts_in: timedelta, amount_minor: int = 10000, captured_days_ago: int = 1):
    now = timezone.now()
    return captured_order(
        amount_minor=amount_minor,
        captured_at=now - timedelta(days=captured_days_ago),
        order__service_starts_at=now + starts_in,
    )


def test_a_booking_cancelled_a_week_ahead_is_refunded_in_full_even_long_after_payment():
    order = booking(starts_in=timedelta(days=10), captured_days_ago=120)  # far outside the 60-day window
    refund = make_refund(order=order, amount_minor=10000)
    assert refund.state == RefundState.APPROVED
    assert refund.policy_rule == "R-AUTO-OTHER"
    assert "within the cancellation terms (100 % 7 or more days before the start)" in refund.policy_rule_text


def test_half_is_refunded_between_two_and_seven_days_and_more_goes_to_review():
    order = booking(starts_in=timedelta(days=3))
    refund = make_refund(order=order, amount_minor=10000)
    assert (refund.state, refund.policy_outcome, refund.recommendation) == (
        RefundState.REQUESTED,
        PolicyOutcome.REVIEW,
        Recommendation.DECLINE,
    )
    assert refund.policy_rule == "R-CANCEL-FEE-50"
    assert refund.policy_rule_text == (
        "cancellations 2 to 7 days before the start are refunded 50 %: "
        "at most 50.00 USD of this booking can still be refunded"
    )
    # Written in the customer's format at drafting; the refund's own amount stays a placeholder.
    assert "we can refund up to $50.00" in refund.draft_reply and "{amount}" in refund.draft_reply


def test_asking_for_the_share_the_schedule_allows_is_approved():
    refund = make_refund(order=booking(starts_in=timedelta(days=3)), amount_minor=5000)
    assert refund.state == RefundState.APPROVED


def test_after_the_start_nothing_is_refunded_without_a_person():
    refund = make_refund(order=booking(starts_in=-timedelta(hours=5)), amount_minor=100)
    assert (refund.policy_rule, refund.recommendation) == ("R-CANCEL-FEE-0", Recommendation.DECLINE)
    assert refund.policy_rule_text.startswith("cancellations less than 2 days before the start, or after it")


def test_what_earlier_refunds_took_counts_against_the_share():
    order = booking(starts_in=timedelta(days=3))
    first = make_refund(order=order, amount_minor=3000)
    assert first.state == RefundState.APPROVED
    too_much = make_refund(order=order, amount_minor=3000)
    assert too_much.policy_rule == "R-CANCEL-FEE-50"  # 30 + 30 > 50
    # While under review it holds its amount too; once declined, 20.00 of the 50 % share is left.
    refund_deny(refund_id=too_much.pk, actor=agent(), note="Cancelled 3 days ahead: half the price.")
    assert make_refund(order=order, amount_minor=2000).state == RefundState.APPROVED
    assert make_refund(order=order, amount_minor=1).policy_rule == "R-CANCEL-FEE-50"


def test_merchant_side_reasons_are_not_limited_by_the_schedule():
    refund = make_refund(order=booking(starts_in=timedelta(days=1)), amount_minor=10000, reason=Reason.DUPLICATE)
    assert refund.state == RefundState.APPROVED
    assert refund.policy_rule == "R-AUTO-DUPLICATE"


def test_goodwill_on_a_booking_is_reviewed_as_goodwill():
    refund = make_refund(order=booking(starts_in=timedelta(days=1)), amount_minor=5000, reason=Reason.GOODWILL)
    assert refund.policy_rule == "R-GOODWILL-REVIEW"


def test_risk_can_widen_or_switch_off_the_reasons_it_applies_to():
    policy = policy_get_active()
    policy.fee_schedule_reasons = []
    policy.save(update_fields=["fee_schedule_reasons"])
    assert make_refund(order=booking(starts_in=timedelta(days=1)), amount_minor=10000).state == RefundState.APPROVED
    policy.fee_schedule_reasons = [Reason.OTHER, Reason.NOT_RECEIVED]
    policy.save(update_fields=["fee_schedule_reasons"])
    refund = make_refund(order=booking(starts_in=timedelta(days=1)), amount_minor=10000, reason=Reason.NOT_RECEIVED)
    assert refund.policy_rule == "R-CANCEL-FEE-0"


def test_orders_without_a_start_follow_the_refund_window():
    order = captured_order(amount_minor=10000, captured_at=timezone.now() - timedelta(days=90))
    assert make_refund(order=order, amount_minor=1000).policy_rule == "R-WINDOW-60D"


def test_tiers_match_whole_days_before_the_start():
    now = timezone.now()

    def percent(starts_in: timedelta) -> int:
        return fee_tier(schedule=DEFAULT_SCHEDULE, starts_at=now + starts_in, captured_minor=999, now=now).percent

    assert percent(timedelta(days=7)) == 100
    assert percent(timedelta(days=7) - timedelta(seconds=1)) == 50  # 6 days 23:59:59 is 6 whole days
    assert percent(timedelta(days=2)) == 50
    assert percent(timedelta(days=2) - timedelta(seconds=1)) == 0
    assert percent(-timedelta(days=30)) == 0
    half = fee_tier(schedule=DEFAULT_SCHEDULE, starts_at=now + timedelta(days=3), captured_minor=999, now=now)
    assert half.entitled_minor == 499  # rounded down: never more than the schedule says


@given(
    captured=st.integers(min_value=1, max_value=10**12),
    hours_before=st.integers(min_value=-24 * 400, max_value=24 * 400),
    earlier_hours=st.integers(min_value=0, max_value=24 * 30),
)
def test_the_share_never_exceeds_the_payment_and_never_grows_closer_to_the_start(captured, hours_before, earlier_hours):
    now = timezone.now()
    starts_at = now + timedelta(hours=hours_before)
    later = fee_tier(schedule=DEFAULT_SCHEDULE, starts_at=starts_at, captured_minor=captured, now=now)
    earlier = fee_tier(
        schedule=DEFAULT_SCHEDULE,
        starts_at=starts_at,
        captured_minor=captured,
        now=now - timedelta(hours=earlier_hours),
    )
    assert 0 <= later.entitled_minor <= earlier.entitled_minor <= captured
    assert later.entitled_minor == captured * later.percent // 100
