"""The policy's limits grid: typed major amounts become exact minor units in each currency's exponent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from console.limits_grid import LimitsTableField, LimitsTableWidget, _limit_cell_minor
from core.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR, minor_to_major
from refunds.limits import LIMIT_COLUMNS, default_limits_table

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
amounts = st.integers(min_value=0, max_value=10**15)


def clean_one(currency: str, text: str, column: str = "other") -> int | None:
    row = {"currency": currency, **dict.fromkeys(LIMIT_COLUMNS, ""), "goodwill_dual_control": "0"}
    row[column] = text
    return LimitsTableField().clean([row])[currency][column]


@given(currency=currencies, minor=amounts)
def test_a_limit_typed_as_shown_is_read_back_to_the_same_minor_units(currency, minor):
    typed = f"{minor_to_major(minor, currency):f}"
    assert clean_one(currency, typed) == minor


@given(currency=currencies, minor=amounts, extra=st.integers(min_value=1, max_value=9))
def test_one_decimal_more_than_the_currency_has_is_refused_never_rounded(currency, minor, extra):
    places = CURRENCY_EXPONENTS[currency]
    typed = f"{minor_to_major(minor, currency):.{places}f}" + ("." if places == 0 else "") + str(extra)
    with pytest.raises(ValidationError) as error:
        clean_one(currency, typed)
    assert f"{currency} has {places} decimal place" in error.value.messages[0]


@given(currency=currencies, minor=amounts)
def test_thousands_separators_are_accepted(currency, minor):
    typed = f"{minor_to_major(minor, currency):,f}"
    assert clean_one(currency, typed) == minor


@pytest.mark.parametrize(
    ("currency", "typed", "minor"),
    [
        ("KWD", "150.000", 150000),
        ("KWD", "0.001", 1),
        ("JPY", "75000", 75000),
        ("JPY", "75,000", 75000),
        ("USD", "0.5", 50),
    ],
)
def test_examples_per_exponent(currency, typed, minor):
    assert clean_one(currency, typed) == minor


def test_amounts_beyond_the_largest_accepted_are_refused():
    with pytest.raises(ValidationError):
        clean_one("JPY", str(MAX_AMOUNT_MINOR + 1))


def test_the_default_table_shows_and_reads_back_unchanged():
    table = default_limits_table()
    rows = LimitsTableWidget.rows_from_table(table)
    assert [row["currency"] for row in rows] == ["USD", "EUR", "GBP", "JPY", "KWD", "AED", "SAR"]
    assert rows[4]["other"] == "150.000" and rows[3]["high_value"] == "300000"
    assert LimitsTableField().clean(rows) == table
    assert Decimal(rows[0]["goodwill_dual_control"]) == Decimal("200.00")


@pytest.mark.parametrize("typed", ["1,50", "1e3", "1_000", "١٢", "NaN", "Infinity", "+5", ".5", "5."])
def test_a_limit_typed_in_any_other_shape_is_refused_never_guessed(typed):
    """`1,50` read as 150.00 would raise a ceiling a hundredfold: refused like every other shape but the one."""
    with pytest.raises(ValidationError) as refused:
        _limit_cell_minor(typed, "USD")
    assert refused.value.code == "invalid"


def test_a_negative_limit_is_refused_as_negative():
    with pytest.raises(ValidationError) as refused:
        _limit_cell_minor("-5.00", "USD")
    assert refused.value.code == "range"
