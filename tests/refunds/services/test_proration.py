"""Refunds for time not used (issue 15): unused days of a service, after the cancellation fee tier."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from core.errors import ERR_INSTRUMENT_NOT_ALLOWED, ERR_NOTHING_UNUSED, ERR_VALIDATION, DomainError
from refunds.enums import PolicyOutcome, PolicyStatus, Reason, RefundState, Role
from refunds.models import Payment, RefundPolicy
from refunds.services.decide import refund_edit
from refunds.services.policy import policy_get_active
from refunds.services.proration import proration_compute, service_days
from refunds.services.request import refund_request
from tests.refunds.factories import agent, captured_order, make_refund, requester

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
# A service in Berlin's March 2026: 30 days, 1st 00:00 to the 31st 00:00 (DST begins on the 29th).
START = datetime(2026, 3, 1, tzinfo=BERLIN)
END = datetime(2026, 3, 31, tzinfo=BERLIN)
FEES = [{"min_days": 7, "percent": 100}, {"min_days": 2, "percent": 50}, {"min_days": 0, "percent": 90}]


@pytest.fixture(autouse=True)
def berlin_books(settings):
    settings.RECONCILIATION_TIMEZONE = "Europe/Berlin"


def prorating_policy(**fields) -> RefundPolicy:
    policy_get_active()  # version 1, the default
    now = timezone.now() - timedelta(seconds=1)
    fields = {"proration_enabled": True, "cancellation_fee_schedule": FEES, **fields}
    return RefundPolicy.objects.create(
        version=2, status=PolicyStatus.APPROVED, reviewed_at=now, activates_at=now, **fields
    )


def service(*, starts_at=START, ends_at=END, amount_minor: int = 30000, captured_days_ago: int = 1):
    return captured_order(
        amount_minor=amount_minor,
        currency="EUR",
        captured_at=timezone.now() - timedelta(days=captured_days_ago),
        order__service_starts_at=starts_at,
        order__service_ends_at=ends_at,
    )


def compute(order, *, now: datetime, reason: str = Reason.OTHER, policy: RefundPolicy | None = None):
    return proration_compute(
        payment=Payment.objects.select_related("order").get(order=order),
        policy=policy or prorating_policy(),
        reason=reason,
        now=now,
    )


def berlin(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


# --- the edge days -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "unused"),
    [
        (datetime(2026, 2, 20, 12, tzinfo=BERLIN), 30),  # before the start
        (START - timedelta(seconds=1), 30),  # the last moment before it
        (START, 29),  # the start day counts as used once the service began
        (berlin(1, 23, 59), 29),
        (berlin(2, 0, 0), 28),  # the second day has begun
        (berlin(18), 12),  # a middle day: 18 days begun
        (berlin(30, 0, 0), 0),  # the last day has begun
        (berlin(30, 23, 59), 0),
        (END, 0),  # after the end
        (datetime(2026, 5, 1, tzinfo=BERLIN), 0),
    ],
)
def test_unused_days_on_the_edge_days(now, unused):
    assert service_days(starts_at=START, ends_at=END, now=now) == (30, unused)


def test_days_are_calendar_days_in_the_business_time_zone_across_the_dst_change():
    # 28th 00:00 to 31st 00:00 in Berlin is 71 hours (the clocks go forward on the 29th) but three days.
    starts_at, ends_at = datetime(2026, 3, 28, tzinfo=BERLIN), datetime(2026, 3, 31, tzinfo=BERLIN)
    assert ends_at.astimezone(UTC) - starts_at.astimezone(UTC) == timedelta(hours=71)
    # 00:30 on the 30th in Berlin is still the 29th in UTC: the books' zone says the third day has begun.
    now = datetime(2026, 3, 30, 0, 30, tzinfo=BERLIN)
    assert now.astimezone(UTC).day == 29
    assert service_days(starts_at=starts_at, ends_at=ends_at, now=now) == (3, 0)


def test_in_utc_books_the_same_moment_is_still_the_day_before(settings):
    settings.RECONCILIATION_TIMEZONE = "UTC"
    starts_at, ends_at = datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    assert service_days(starts_at=starts_at, ends_at=ends_at, now=datetime(2026, 3, 29, 22, 30, tzinfo=UTC)) == (3, 1)


def test_an_end_within_a_day_counts_that_day():
    assert service_days(starts_at=berlin(1, 15), ends_at=berlin(4, 11), now=berlin(1, 10))[0] == 4
    assert service_days(starts_at=berlin(1, 15), ends_at=datetime(2026, 3, 4, tzinfo=BERLIN), now=berlin(1, 10))[0] == 3


# --- the amount ---------------------------------------------------------------------------------


def test_the_issue_example_twelve_of_thirty_days_after_a_ten_percent_fee():
    proration = compute(service(), now=berlin(18))
    assert (proration.total_days, proration.unused_days, proration.base_minor) == (30, 12, 12000)
    assert (proration.fee_percent, proration.amount_minor) == (90, 10800)
    assert proration.as_json()["text"] == (
        "€300.00 × 12/30 days unused = €120.00, 90 % after the cancellation fee = €108.00"
    )


def test_before_the_start_the_fee_schedule_applies_to_the_whole_price():
    order = service()
    assert compute(order, now=START - timedelta(days=10)).amount_minor == 30000
    proration = compute(order, now=START - timedelta(days=3), policy=RefundPolicy.objects.get(version=2))
    assert (proration.unused_days, proration.base_minor, proration.fee_percent, proration.amount_minor) == (
        30,
        30000,
        50,
        15000,
    )


def test_reasons_outside_the_fee_schedule_get_the_whole_unused_share():
    proration = compute(service(), now=berlin(18), reason=Reason.QUALITY)
    assert (proration.fee_percent, proration.amount_minor) == (100, 12000)
    assert proration.as_json()["text"] == "€300.00 × 12/30 days unused = €120.00"


def test_what_earlier_refunds_took_is_taken_off():
    order = service()
    make_refund(order=order, amount_minor=2000, reason=Reason.GOODWILL)
    proration = compute(order, now=berlin(18))
    assert (proration.earlier_minor, proration.amount_minor) == (2000, 8800)
    assert proration.as_json()["text"].endswith(", less €20.00 refunded before = €88.00")


def test_the_base_rounds_down():
    proration = compute(service(amount_minor=10001), now=berlin(20))  # 10 of 30 days: 3333.67
    assert (proration.base_minor, proration.amount_minor) == (3333, 2999)


@pytest.mark.parametrize("now", [berlin(30), END, datetime(2026, 4, 2, tzinfo=BERLIN)])
def test_nothing_unused_on_the_last_day_and_after_the_end(now):
    with pytest.raises(DomainError) as caught:
        compute(service(), now=now)
    assert caught.value.code == ERR_NOTHING_UNUSED
    assert caught.value.details["unused_days"] == 0


def test_a_zero_percent_tier_leaves_nothing_to_refund():
    policy = prorating_policy(
        cancellation_fee_schedule=[{"min_days": 7, "percent": 100}, {"min_days": 0, "percent": 0}]
    )
    with pytest.raises(DomainError) as caught:
        compute(service(), now=berlin(5), policy=policy)
    assert caught.value.code == ERR_NOTHING_UNUSED


def test_a_policy_without_proration_refuses_it():
    with pytest.raises(DomainError) as caught:
        compute(service(), now=berlin(5), policy=prorating_policy(proration_enabled=False))
    assert caught.value.code == ERR_INSTRUMENT_NOT_ALLOWED


@pytest.mark.parametrize("dates", [{"ends_at": None}, {"starts_at": None}, {"ends_at": START}])
def test_an_order_without_both_service_dates_cannot_be_prorated(dates):
    with pytest.raises(DomainError) as caught:
        compute(service(**dates), now=berlin(5))
    assert (caught.value.code, caught.value.details["field"]) == (ERR_VALIDATION, "prorate")


# --- through the request and the policy ---------------------------------------------------------


def running_service(*, amount_minor: int = 30000, captured_days_ago: int = 1):
    """A 30-day service that began at midnight 18 days ago (books in Berlin): day 19 today, 11 days unused."""
    first = timezone.localtime(timezone.now(), BERLIN).date() - timedelta(days=18)
    starts_at = datetime.combine(first, time(0), tzinfo=BERLIN)
    return service(
        starts_at=starts_at,
        ends_at=datetime.combine(first + timedelta(days=30), time(0), tzinfo=BERLIN),
        amount_minor=amount_minor,
        captured_days_ago=captured_days_ago,
    )


def prorate(order, reason: str = Reason.OTHER):
    return refund_request(order=order, prorate=True, currency="EUR", reason=reason, actor=requester())


def test_a_prorated_refund_is_within_the_policys_terms_even_long_after_payment():
    prorating_policy()
    refund = prorate(running_service(captured_days_ago=200))  # far outside the 60-day window

    assert refund.amount_minor == 30000 * 11 // 30 * 90 // 100 == 9900
    assert (refund.state, refund.policy_rule) == (RefundState.APPROVED, "R-AUTO-OTHER")
    assert "for the time not used (11/30 days, 90 % after the cancellation fee)" in refund.policy_rule_text
    refund.refresh_from_db()
    assert refund.proration["text"] == "€300.00 × 11/30 days unused = €110.00, 90 % after the cancellation fee = €99.00"
    assert (refund.proration["unused_days"], refund.proration["amount_minor"]) == (11, 9900)


def test_a_prorated_refund_above_the_ceiling_is_still_reviewed():
    prorating_policy()
    refund = prorate(running_service(amount_minor=3_000_000))  # 9,900.00 EUR, above the 460.00 ceiling
    assert (refund.policy_outcome, refund.policy_rule) == (PolicyOutcome.REVIEW, "R-CEILING-OTHER")


def test_the_amount_of_a_prorated_refund_cannot_be_edited():
    prorating_policy()
    refund = prorate(running_service(amount_minor=3_000_000))
    with pytest.raises(DomainError) as caught:
        refund_edit(refund_id=refund.pk, actor=agent("senior", Role.SENIOR_AGENT), amount_minor=100)
    assert caught.value.code == ERR_VALIDATION and "time not used" in caught.value.message


def test_prorating_twice_refunds_nothing_more():
    prorating_policy()
    order = running_service()
    prorate(order)
    with pytest.raises(DomainError) as caught:
        prorate(order)
    assert caught.value.code == ERR_NOTHING_UNUSED
