"""Refunds by line (issue 15): amounts from the lines' units, units held while the refund is active."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ERR_AMOUNT_RANGE, ERR_EXCEEDS_REMAINING, ERR_VALIDATION, DomainError
from refunds.enums import Reason, RefundState, Role
from refunds.models import OrderLine, Payment, Refund, RefundLine
from refunds.services.cancel import refund_cancel
from refunds.services.decide import refund_edit
from refunds.services.lines import LineRequest, cumulative_share, line_share
from refunds.services.request import refund_request
from tests.refunds.factories import OrderLineFactory, agent, captured_order, move_refund, requester
from tests.refunds.services.test_concurrency import race

pytestmark = pytest.mark.django_db
S = RefundState


def order_with_lines(*, amount_minor: int = 100000):
    """A: 3 × 10.00 with 1.00 tax, 0.01 discount (gross 30.99); B: 1 × 20.00, no tax; C: no sku."""
    order = captured_order(amount_minor=amount_minor)
    OrderLineFactory(
        order=order, line_no=1, sku="A", unit_amount_minor=1000, quantity=3, tax_minor=100, discount_minor=1
    )
    OrderLineFactory(order=order, line_no=2, sku="B", unit_amount_minor=2000, quantity=1, tax_minor=0)
    OrderLineFactory(order=order, line_no=3, sku="", unit_amount_minor=500, quantity=1, tax_minor=0)
    return order


def by_line(order, *lines: tuple[str, int], reason: str = Reason.OTHER) -> Refund:
    return refund_request(
        order=order,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        currency=order.currency,
        reason=reason,
        actor=requester(),
    )


def refused(code: str, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


def held(order, sku: str) -> int:
    return OrderLine.objects.get(order=order, sku=sku).refunded_quantity


# --- money -------------------------------------------------------------------------------


@given(
    gross=st.integers(min_value=0, max_value=10**12),
    parts=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=20),
)
def test_refunding_every_unit_in_any_number_of_refunds_gives_exactly_the_lines_gross(gross, parts):
    units = sum(parts)
    taken_units = taken_minor = 0
    for quantity in parts:
        share = line_share(
            total_minor=gross, units=units, taken_units=taken_units, taken_minor=taken_minor, quantity=quantity
        )
        # Without cancellations a refund gets the plain share of its units [a, a + q).
        assert share == cumulative_share(gross, units=units, upto=taken_units + quantity) - cumulative_share(
            gross, units=units, upto=taken_units
        )
        assert share >= 0
        taken_units, taken_minor = taken_units + quantity, taken_minor + share
    assert taken_minor == gross


@settings(max_examples=300)
@given(
    gross=st.integers(min_value=0, max_value=10**9),
    units=st.integers(min_value=1, max_value=12),
    steps=st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=11)), max_size=30),
)
def test_with_cancellations_active_refunds_never_sum_above_the_gross_and_the_last_unit_settles_it(gross, units, steps):
    active: list[tuple[int, int]] = []  # (quantity, amount) of the line's active refunds
    for request, pick in steps:
        taken_units, taken_minor = sum(q for q, _ in active), sum(a for _, a in active)
        if request and taken_units < units:
            quantity = pick % (units - taken_units) + 1
            share = line_share(
                total_minor=gross, units=units, taken_units=taken_units, taken_minor=taken_minor, quantity=quantity
            )
            assert share >= 0
            active.append((quantity, share))
        elif active:
            active.pop(pick % len(active))  # a cancel or terminal failure releases the refund's units
        assert sum(a for _, a in active) <= gross
        if sum(q for q, _ in active) == units:
            assert sum(a for _, a in active) == gross


def test_a_refund_by_line_is_worth_its_units_with_their_tax():
    order = order_with_lines()
    refund = by_line(order, ("A", 1), ("B", 1))

    # A: gross 3000 − 1 + 100 = 3099; one unit of three: 1033 (tax 33). B: 2000.
    assert refund.amount_minor == 1033 + 2000
    rows = [
        (r.order_line.sku, r.quantity, r.amount_minor, r.tax_minor) for r in RefundLine.objects.filter(refund=refund)
    ]
    assert rows == [("A", 1, 1033, 33), ("B", 1, 2000, 0)]
    assert (held(order, "A"), held(order, "B")) == (1, 1)
    assert Payment.objects.get(order=order).refund_reserved_minor == 3033


def test_three_refunds_of_one_unit_each_add_up_to_the_lines_gross_exactly():
    order = order_with_lines()
    amounts = [by_line(order, ("A", 1)).amount_minor for _ in range(3)]
    assert amounts == [1033, 1033, 1033] and sum(amounts) == 3099
    taxes = list(RefundLine.objects.filter(refund__order=order).values_list("tax_minor", flat=True))
    assert sum(taxes) == 100


def test_a_second_request_for_units_already_refunded_is_refused_with_what_is_left():
    order = order_with_lines()
    by_line(order, ("A", 2))
    error = refused(ERR_EXCEEDS_REMAINING, by_line, order, ("A", 2))
    assert (error.details["sku"], error.details["quantity_left"]) == ("A", 1)
    assert error.details["field"] == "lines[0].quantity"
    assert held(order, "A") == 2 and Refund.objects.filter(order=order).count() == 1


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ((("Z", 1),), "lines[0].sku"),  # unknown
        ((("B", 1), ("A", 1), ("A", 1)), "lines[2].sku"),  # named twice
        ((("A", 0),), "lines[0].quantity"),
        ((("A", -1),), "lines[0].quantity"),
        ((("", 1),), "lines[0].sku"),  # the line without a sku cannot be addressed
        ((), "lines"),
    ],
)
def test_malformed_lines_are_refused_naming_the_line(lines, field):
    order = order_with_lines()
    error = refused(ERR_VALIDATION, by_line, order, *lines)
    assert error.details["field"] == field
    assert not Refund.objects.filter(order=order).exists() and held(order, "A") == 0


def test_a_sku_on_two_lines_of_the_order_cannot_be_refunded_by_line():
    order = order_with_lines()
    OrderLineFactory(order=order, line_no=4, sku="B", unit_amount_minor=100, quantity=1)
    error = refused(ERR_VALIDATION, by_line, order, ("B", 1))
    assert "Several lines" in error.message


def test_units_worth_nothing_are_not_a_refund():
    order = captured_order()
    OrderLineFactory(order=order, line_no=1, sku="FREE", unit_amount_minor=0, tax_minor=0)
    refused(ERR_AMOUNT_RANGE, by_line, order, ("FREE", 1))


def test_exactly_one_of_amount_lines_or_prorate():
    order = order_with_lines()
    for kwargs in ({}, {"amount_minor": 100, "lines": [LineRequest("A", 1)]}, {"amount_minor": 100, "prorate": True}):
        refused(
            ERR_VALIDATION,
            refund_request,
            order=order,
            currency="USD",
            reason=Reason.OTHER,
            actor=requester(),
            **kwargs,
        )


# --- holding units -------------------------------------------------------------------------------


def test_a_canceled_refund_gives_its_units_back():
    order = order_with_lines()
    refund = by_line(order, ("A", 3))
    refund_cancel(refund_id=refund.pk, actor=agent())
    assert held(order, "A") == 0
    again = by_line(order, ("A", 3))
    assert again.amount_minor == 3099


def test_a_refund_after_a_cancellation_settles_the_rounding_the_canceled_one_took():
    order = order_with_lines()
    first = by_line(order, ("A", 1))  # 1033
    by_line(order, ("A", 1))  # 1033
    refund_cancel(refund_id=first.pk, actor=agent())
    last = by_line(order, ("A", 2))
    assert last.amount_minor == 3099 - 1033


def test_a_denied_refund_gives_its_units_back():
    order = order_with_lines()
    refund = by_line(order, ("A", 1), reason=Reason.GOODWILL)  # goodwill is always reviewed
    assert refund.state == S.REQUESTED
    move_refund(refund, S.DENIED, changes={"decline_reason": "no"})
    assert held(order, "A") == 0


def retryable_failure(refund: Refund) -> Refund:
    move_refund(refund, S.SUBMITTING)
    return move_refund(refund, S.FAILED, changes={"failure_code": "insufficient_funds", "failure_retryable": True})


def test_a_failed_refund_gives_its_units_back_and_a_retry_takes_them_again():
    order = order_with_lines()
    refund = by_line(order, ("A", 2))
    assert refund.state == S.APPROVED
    retryable_failure(refund)
    assert held(order, "A") == 0
    move_refund(refund, S.SUBMITTING)
    assert held(order, "A") == 2


def test_a_retry_is_refused_when_another_refund_took_the_units_meanwhile():
    order = order_with_lines()
    refund = by_line(order, ("A", 2))
    retryable_failure(refund)
    by_line(order, ("A", 3))
    error = refused(ERR_EXCEEDS_REMAINING, move_refund, refund, S.SUBMITTING)
    assert (error.details["sku"], error.details["quantity_left"]) == ("A", 0)
    refund.refresh_from_db()
    assert refund.state == S.FAILED and held(order, "A") == 3


def test_a_refund_by_amount_holds_no_units():
    order = order_with_lines()
    refund = refund_request(order=order, amount_minor=500, currency="USD", reason=Reason.OTHER, actor=requester())
    refund_cancel(refund_id=refund.pk, actor=agent())
    assert held(order, "A") == 0 and not RefundLine.objects.exists()


def test_the_database_refuses_holding_more_units_than_the_line_has():
    order = order_with_lines()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderLine.objects.filter(order=order, sku="A").update(refunded_quantity=F("quantity") + 1)


def test_the_amount_of_a_refund_by_line_cannot_be_edited():
    order = order_with_lines()
    refund = by_line(order, ("A", 1), reason=Reason.GOODWILL)
    error = refused(
        ERR_VALIDATION, refund_edit, refund_id=refund.pk, actor=agent("senior", Role.SENIOR_AGENT), amount_minor=500
    )
    assert "by line" in error.message
    refund.refresh_from_db()
    assert refund.amount_minor == 1033


# --- races ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_three_customers_asking_for_the_last_units_at_once_one_wins():
    order = order_with_lines()
    by_line(order, ("A", 1))  # two units left

    results = race(*[lambda: by_line(order, ("A", 2)) for _ in range(3)])

    won = [r for r in results if isinstance(r, Refund)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1 and len(lost) == 2, results
    assert all(e.code == ERR_EXCEEDS_REMAINING for e in lost)
    line = OrderLine.objects.get(order=order, sku="A")
    assert line.refunded_quantity == line.quantity == 3
    assert sum(RefundLine.objects.filter(order_line=line).values_list("amount_minor", flat=True)) == 3099


@pytest.mark.django_db(transaction=True)
def test_a_cancel_racing_a_request_for_the_same_units_never_holds_more_than_the_line():
    order = order_with_lines()
    first = by_line(order, ("A", 3))

    results = race(
        lambda: refund_cancel(refund_id=first.pk, actor=agent()),
        lambda: by_line(order, ("A", 3)),
    )

    line = OrderLine.objects.get(order=order, sku="A")
    active = RefundLine.objects.filter(order_line=line, refund__state__in=[S.REQUESTED, S.APPROVED])
    assert line.refunded_quantity == sum(active.values_list("quantity", flat=True)) <= 3
    assert isinstance(results[0], Refund)
