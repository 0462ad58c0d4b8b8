from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import (
    CURRENCY_EXPONENTS,
    format_plain,
    major_to_minor,
    minor_to_major,
    split_pro_rata,
)

amounts = st.integers(min_value=-(10**15), max_value=10**15)
weights = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=40)


@given(amount=amounts, weights=weights)
def test_split_never_loses_or_invents_a_minor_unit(amount, weights):
    parts = split_pro_rata(amount, weights)
    assert sum(parts) == amount
    assert len(parts) == len(weights)


@given(amount=st.integers(min_value=0, max_value=10**15), weights=weights)
def test_each_part_is_within_one_unit_of_its_exact_share(amount, weights):
    total = sum(weights)
    parts = split_pro_rata(amount, weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(amount) * weight / total if total else None
        if exact is None:
            continue
        assert abs(Decimal(part) - exact) < 1


@given(amount=st.integers(min_value=0, max_value=10**12), weights=weights)
def test_zero_weights_get_nothing_unless_all_are_zero(amount, weights):
    parts = split_pro_rata(amount, weights)
    if sum(weights):
        assert all(p == 0 for p, w in zip(parts, weights, strict=True) if w == 0)
    else:
        assert parts[0] == amount


@given(amount=amounts, weights=weights)
def test_negative_amount_splits_symmetrically(amount, weights):
    assert split_pro_rata(-amount, weights) == [-p for p in split_pro_rata(amount, weights)]


def test_split_is_deterministic_on_ties():
    assert split_pro_rata(100, [1, 1, 1]) == [34, 33, 33]


def test_split_refuses_negative_weights():
    with pytest.raises(ValueError):
        split_pro_rata(10, [1, -1])


@given(
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
    minor=st.integers(min_value=-(10**15), max_value=10**15),
)
def test_minor_major_round_trip_is_exact(currency, minor):
    assert major_to_minor(minor_to_major(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("currency", "minor", "text"),
    [("JPY", 1200, "1200 JPY"), ("USD", 10000, "100.00 USD"), ("KWD", 25500, "25.500 KWD")],
)
def test_iso_4217_exponents_decide_the_minor_unit(currency, minor, text):
    assert format_plain(minor, currency) == text


def test_major_to_minor_refuses_extra_precision():
    with pytest.raises(ValueError):
        major_to_minor(Decimal("1.5"), "JPY")
