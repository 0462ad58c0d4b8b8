"""Money and time as staff read them: separators per locale, the ISO code, the person's own time zone."""

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from django.template import Context, Template
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from console.presenters.formatting import money, when
from core.i18n import format_amount_code, format_moment
from core.money import MAX_AMOUNT_MINOR, minor_to_major

EXPONENTS = {"JPY": 0, "USD": 2, "KWD": 3}
EN = Locale.parse("en_GB")
DE = Locale.parse("de_DE")


def parse_en(text: str) -> tuple[Decimal, str]:
    number, code = text.rsplit(" ", 1)
    return Decimal(number.replace(",", "")), code


@given(
    amount=st.integers(min_value=-MAX_AMOUNT_MINOR, max_value=MAX_AMOUNT_MINOR),
    currency=st.sampled_from(sorted(EXPONENTS)),
)
def test_amount_reads_back_exactly_with_the_currency_exponent(amount, currency):
    text = format_amount_code(amount, currency, EN)
    value, code = parse_en(text)
    assert code == currency
    assert value == minor_to_major(amount, currency)
    digits = EXPONENTS[currency]
    fraction = text.rsplit(" ", 1)[0].partition(".")[2]
    assert len(fraction) == digits  # never CLDR's display digits, never rounded


@given(amount=st.integers(min_value=0, max_value=MAX_AMOUNT_MINOR), currency=st.sampled_from(sorted(EXPONENTS)))
def test_thousands_are_grouped_in_threes(amount, currency):
    whole = format_amount_code(amount, currency, EN).rsplit(" ", 1)[0].partition(".")[0]
    groups = whole.split(",")
    assert 1 <= len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:])


def test_separators_follow_the_locale():
    assert format_amount_code(123450, "USD", EN) == "1,234.50 USD"
    assert format_amount_code(123450, "EUR", DE) == "1.234,50 EUR"
    assert format_amount_code(450000, "JPY", EN) == "450,000 JPY"
    assert format_amount_code(500000, "KWD", EN) == "500.000 KWD"
    assert format_amount_code(-5, "USD", EN) == "-0.05 USD"


def test_staff_money_never_shows_raw_minor_units(settings):
    settings.STAFF_LOCALE = "en_GB"
    assert money(500000, "USD") == "5,000.00 USD"
    assert money(None, "USD") == ""
    assert money(500, "XXX") == "500 minor units XXX"  # not guessed: named as what it is


def test_time_is_shown_in_the_active_zone_with_its_name():
    moment = datetime(2026, 12, 2, 13, 5, tzinfo=UTC)
    assert format_moment(moment, EN, ZoneInfo("Europe/Berlin")) == "2 Dec 2026, 14:05\u00a0CET"
    assert format_moment(moment, EN, ZoneInfo("UTC")) == "2 Dec 2026, 13:05\u00a0UTC"
    # No abbreviation in the zone database: the offset, never a bare "+04".
    assert format_moment(moment, EN, ZoneInfo("Asia/Dubai")) == "2 Dec 2026, 17:05\u00a0UTC+04"
    with timezone.override(ZoneInfo("America/New_York")):
        assert when(moment) == "2 Dec 2026, 08:05\u00a0EST"
    assert when(None) == ""


def test_template_filters_use_the_same_helper():
    html = Template("{% load staff %}{{ amount|money:currency }} · {{ at|when }}").render(
        Context({"amount": 123456789, "currency": "JPY", "at": datetime(2026, 7, 1, 12, 0, tzinfo=UTC)})
    )
    with timezone.override(ZoneInfo("Europe/Berlin")):
        summer = Template("{% load staff %}{{ at|when }}").render(
            Context({"at": datetime(2026, 7, 1, 12, 0, tzinfo=UTC)})
        )
    assert html == "123,456,789 JPY · 1 Jul 2026, 12:00\u00a0UTC"
    assert summer == "1 Jul 2026, 14:00\u00a0CEST"


@pytest.mark.parametrize("currency", sorted(EXPONENTS))
def test_zero_has_the_currency_decimals(currency):
    assert (
        format_amount_code(0, currency, EN)
        == f"{Decimal(0).quantize(Decimal(1).scaleb(-EXPONENTS[currency]))} {currency}"
    )
