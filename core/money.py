"""Money as integer minor units with the currency beside them.

Floats never touch an amount. ISO 4217 exponents decide what a minor unit is
(JPY 0, USD 2, KWD 3); a currency we do not know is refused rather than guessed.
"""

from __future__ import annotations

import re
from decimal import Decimal

# ISO 4217 minor-unit exponents for the currencies we accept. Anything not
# listed is rejected at the API boundary.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2, "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2,
    "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2,
    "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MXN": 2, "MYR": 2,
    "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2, "QAR": 2, "SAR": 2, "SEK": 2,
    "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UGX": 0, "USD": 2, "VND": 0,
    "ZAR": 2,
}  # fmt: skip


# The largest amount in minor units we accept anywhere. Amounts are bigint
# columns, and PostgreSQL adds them (reserved + refunded <= captured): bounded
# at 2**53 - 1, no sum of a payment's amounts can leave bigint's range, and every
# JSON reader (JavaScript's included) holds each amount exactly.
MAX_AMOUNT_MINOR = 2**53 - 1


class UnknownCurrency(ValueError):
    pass


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(currency) from None


def is_known_currency(currency: str) -> bool:
    return currency in CURRENCY_EXPONENTS


def major_to_minor(amount: Decimal, currency: str) -> int:
    """Convert a decimal major amount (e.g. policy limits) to minor units exactly.

    Raises ValueError when the amount has more decimals than the currency has
    minor units, instead of silently rounding a limit.
    """
    scaled = Decimal(amount).scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more precision than {currency} allows")
    return int(scaled)


def minor_to_major(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-exponent(currency))


def major_input(amount_minor: int, currency: str) -> str:
    """An amount as a person types it: `45.00` for USD, `1200` for JPY (the console's forms, Slack's modal)."""
    exp = CURRENCY_EXPONENTS.get(currency, 2)
    return f"{minor_to_major(amount_minor, currency):.{exp}f}"


class AmountInputError(ValueError):
    """What a person typed is not an amount of the currency; `message` says why in words, `code` for forms."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# What a person may type for an amount: ASCII digits, optionally grouped by commas in threes, and a
# decimal point. Nothing else: a comma is never a decimal separator ("1,50" would be 150.00, a hundred
# times what a comma-decimal reader meant), and Decimal's own extras (exponents, underscores, other
# scripts' digits, NaN, Infinity) are not amounts anyone types.
_AMOUNT_TYPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?", re.ASCII)
AMOUNT_EXAMPLE = "Enter an amount such as 45.00."


def is_typed_amount(text: str) -> bool:
    """Whether `text` has the one shape a typed amount may have (see parse_major_amount); no sign."""
    return _AMOUNT_TYPED.fullmatch(text) is not None


def parse_major_amount(value: str, currency: str) -> int:
    """`"45.50"` in USD → 4550, `"1,234.50"` → 123450; refuses anything else, zero, and extra decimals.

    One parser for every place a person types an amount in major units (the
    console's forms, the Slack edit modal), so they accept and refuse alike.
    Only ASCII digits, commas grouping thousands (in threes, before the point)
    and one decimal point are read: `1,50`, `1e2`, `1_000`, `١٢` or `４５` are
    refused with the example to follow, never guessed.
    """
    text = (value or "").strip()
    if text.startswith("-") and _AMOUNT_TYPED.fullmatch(text[1:]):
        raise AmountInputError("The amount must be more than zero.", code="range")
    if not _AMOUNT_TYPED.fullmatch(text):
        raise AmountInputError(AMOUNT_EXAMPLE, code="invalid")
    amount = Decimal(text.replace(",", ""))
    if amount <= 0:
        raise AmountInputError("The amount must be more than zero.", code="range")
    try:
        return major_to_minor(amount, currency)
    except ValueError:
        places = exponent(currency)
        raise AmountInputError(
            f"{currency} amounts have {places} decimal place{'s' if places != 1 else ''} at most.", code="precision"
        ) from None


def format_plain(amount_minor: int, currency: str) -> str:
    """Locale-free rendering (`100.00 USD`) for logs, CSV and audit notes."""
    exp = exponent(currency)
    value = minor_to_major(amount_minor, currency)
    return f"{value:.{exp}f} {currency}"


def split_pro_rata(amount: int, weights: list[int]) -> list[int]:
    """Split `amount` over `weights` proportionally, never losing a minor unit.

    Largest-remainder method: every part gets floor(amount * w / total); the
    units left over go one each to the parts with the largest remainders, ties
    broken by position so the result is deterministic. The parts always sum to
    `amount` exactly, and no part differs from its exact share by a full unit.
    Zero weights get nothing; all-zero weights put everything on the first part.
    """
    if not weights:
        raise ValueError("weights must not be empty")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    total = sum(weights)
    if total == 0:
        return [amount] + [0] * (len(weights) - 1)
    sign = -1 if amount < 0 else 1
    magnitude = abs(amount)
    parts = []
    remainders = []
    for index, weight in enumerate(weights):
        quotient, remainder = divmod(magnitude * weight, total)
        parts.append(quotient)
        remainders.append((-remainder, index))
    leftover = magnitude - sum(parts)
    for _, index in sorted(remainders)[:leftover]:
        parts[index] += 1
    return [sign * p for p in parts]
