"""What a reply may say: known placeholders, and no amount but the refund's (refunds.replies, issue 12)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import ERR_REPLY_AMOUNT_MISMATCH, ERR_REPLY_PLACEHOLDER, DomainError
from refunds.replies import DEFAULT_REPLY_TEMPLATES, money_mentions, reply_check, reply_fill


@pytest.mark.parametrize(
    ("text", "currency", "values"),
    [
        ("We refund $5 today.", "USD", [Decimal(5)]),
        ("Wir erstatten 5,00 € heute.", "EUR", [Decimal("5.00")]),
        ("We refund 5.00 now.", "USD", [Decimal("5.00")]),
        ("We refund 1,234.50 USD.", "USD", [Decimal("1234.50")]),
        ("Wir erstatten 1.234,50 €.", "EUR", [Decimal("1234.50")]),
        ("نعيد ٤٫٠٠ US$ إليك", "USD", [Decimal("4.00")]),
        ("We refund 4500 JPY, or ¥4,500.", "JPY", [Decimal(4500), Decimal(4500)]),
        ("We refund 1.500 KWD.", "KWD", [Decimal("1.500")]),
        ("Within 30 days, order ORD-4811, in 5–10 business days.", "USD", []),
        ("Your refund of {amount} for {order} is on its way.", "USD", []),
        ("Five pieces (EURO 2024 edition), MAED 5 left.", "USD", []),
    ],
)
def test_money_mentions_finds_amounts_and_only_amounts(text, currency, values):
    assert [m.value for m in money_mentions(text, currency)] == values


def test_a_reply_stating_another_amount_is_refused_with_the_placeholder_named():
    with pytest.raises(DomainError) as refused:
        reply_check(template="We approved your refund of 5.00 USD.", amount_minor=400, currency="USD")
    assert refused.value.code == ERR_REPLY_AMOUNT_MISMATCH
    assert "{amount}" in refused.value.message and "5.00" in refused.value.message


def test_a_reply_stating_the_refunds_own_amount_or_the_placeholder_is_accepted():
    reply_check(template="We refund 4.00 USD, that is {amount}.", amount_minor=400, currency="USD")


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("We refund €30.00.", "USD"),
        ("We refund 30.00 EUR.", "USD"),
        ("Wir erstatten 30,00 $.", "EUR"),
    ],
)
def test_the_refunds_number_in_another_currency_is_refused(text, currency):
    with pytest.raises(DomainError) as refused:
        reply_check(template=text, amount_minor=3000, currency=currency)
    assert refused.value.code == ERR_REPLY_AMOUNT_MISMATCH


@pytest.mark.parametrize(
    ("text", "currency", "amount_minor"),
    [("We refund $30.00.", "USD", 3000), ("Wir erstatten 30,00 €.", "EUR", 3000), ("¥500 back", "JPY", 500)],
)
def test_the_refunds_number_with_its_own_currency_is_accepted(text, currency, amount_minor):
    reply_check(template=text, amount_minor=amount_minor, currency=currency)


def test_an_unknown_placeholder_is_refused_listing_the_allowed_ones():
    with pytest.raises(DomainError) as refused:
        reply_check(template="Hello {name}, your {amount}.", amount_minor=400, currency="USD")
    assert refused.value.code == ERR_REPLY_PLACEHOLDER
    for name in ("{amount}", "{order}", "{item}", "{customer_name}", "{timing}"):
        assert name in refused.value.message
    assert "{name}" in refused.value.message


def test_filling_leaves_unknown_braces_and_literal_text_as_written():
    assert reply_fill("of {amount} {x} {", {"amount": "$4.00"}) == "of $4.00 {x} {"


def test_every_default_template_is_valid_and_states_no_amount():
    for kinds in DEFAULT_REPLY_TEMPLATES.values():
        for kind, text in kinds.items():
            assert "{amount}" in text
            if kind != "decline_fee":
                reply_check(template=text, amount_minor=None, currency="USD")
