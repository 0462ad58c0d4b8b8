"""What a person types for an amount (`core.money.parse_major_amount`): only what reads one way is accepted.

The console's forms and Slack's Edit modal share this parser. A comma is a
thousands separator in threes and nothing else, so `1,50` is refused rather
than read as 150.00 (a hundred times what a comma-decimal reader meant);
Decimal's extras — exponents, underscores, other scripts' digits — are refused.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import (
    CURRENCY_EXPONENTS,
    MAX_AMOUNT_MINOR,
    AmountInputError,
    exponent,
    major_input,
    minor_to_major,
    parse_major_amount,
)

# One currency of each exponent the project has, and all of them for the properties.
BY_EXPONENT = {0: "JPY", 2: "USD", 3: "KWD"}
currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
amounts = st.integers(min_value=1, max_value=MAX_AMOUNT_MINOR)


@given(currency=currencies, minor=amounts)
def test_an_amount_as_the_forms_prefill_it_reads_back_exactly(currency, minor):
    assert parse_major_amount(major_input(minor, currency), currency) == minor


@given(currency=currencies, minor=amounts)
def test_an_amount_with_thousands_separators_reads_back_exactly(currency, minor):
    typed = f"{minor_to_major(minor, currency):,.{exponent(currency)}f}"
    assert parse_major_amount(f"  {typed} ", currency) == minor


@given(currency=currencies, minor=amounts, extra=st.integers(min_value=1, max_value=9))
def test_one_decimal_more_than_the_currency_has_is_refused(currency, minor, extra):
    places = exponent(currency)
    typed = major_input(minor, currency) + ("." if places == 0 else "") + str(extra)
    with pytest.raises(AmountInputError) as error:
        parse_major_amount(typed, currency)
    assert error.value.code == "precision"


@pytest.mark.parametrize(("places", "typed", "minor"), [
    (0, "1200", 1200), (0, "1,200", 1200), (0, "1,200,000", 1200000), (0, "12.0", 12),
    (2, "45", 4500), (2, "45.5", 4550), (2, "45.50", 4550), (2, "1,234.50", 123450), (2, "0.01", 1),
    (3, "0.001", 1), (3, "1,000.250", 1000250),
])  # fmt: skip
def test_what_is_accepted_per_exponent(places, typed, minor):
    assert parse_major_amount(typed, BY_EXPONENT[places]) == minor


@pytest.mark.parametrize(
    "typed",
    [
        "1,50",  # a comma-decimal 1.50: was read as 150.00
        "1,5",
        "12,34,567",  # grouping not in threes
        "1,2345",
        ",100",
        "1,000,00",
        "1e2",  # Decimal's exponent: was 100.00
        "1E2",
        "1_000",  # Python's digit separator
        "١٢",  # Arabic-Indic digits: was 12.00
        "４５",  # full-width digits
        "٤٥.٠٠",
        "NaN",
        "Infinity",
        "+45",
        ".5",
        "5.",
        "45.00.1",
        "4 500",
        "0x10",
        "",
        "45 USD",
        "$45",
    ],
)
def test_anything_else_is_refused_with_an_example(typed):
    for currency in BY_EXPONENT.values():
        with pytest.raises(AmountInputError) as error:
            parse_major_amount(typed, currency)
        assert (error.value.code, error.value.message) == ("invalid", "Enter an amount such as 45.00."), typed


@pytest.mark.parametrize("typed", ["0", "0.00", "-5", "-1,000.00"])
def test_zero_and_negatives_are_refused_as_out_of_range(typed):
    with pytest.raises(AmountInputError) as error:
        parse_major_amount(typed, "USD")
    assert (error.value.code, error.value.message) == ("range", "The amount must be more than zero.")


def test_the_precision_refusal_names_the_currency_and_its_places():
    with pytest.raises(AmountInputError) as error:
        parse_major_amount("12.5", "JPY")
    assert error.value.message == "JPY amounts have 0 decimal places at most."
