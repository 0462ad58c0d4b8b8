"""The policy's money limits, per currency (SPEC §3.2 "Limits per currency").

A policy version stores one table: for each ISO 4217 currency, in that
currency's own minor units, each reason's auto-approve ceiling, the goodwill
dual-control threshold and the high-value dual-control threshold (every
reason). A limit applies to refunds in its currency only; a currency the
table does not list is never auto-approved and always needs two senior
approvals (the conservative side: nobody has said what is a lot in it).

    {"USD": {"not_received": 50000, ..., "goodwill_dual_control": 20000, "high_value": 200000}, ...}

`None` in a cell: for a ceiling, that reason is never auto-approved in the
currency; for high value, that currency has no high-value dual control. The
goodwill threshold is always set (goodwill is where dual control began).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from core.money import exponent
from refunds.enums import Reason

GOODWILL_DUAL_CONTROL = "goodwill_dual_control"
HIGH_VALUE = "high_value"
# Goodwill is never auto-approved, so it has no ceiling column.
CEILING_REASONS: list[str] = [reason for reason in Reason.values if reason != Reason.GOODWILL]
LIMIT_COLUMNS: list[str] = [*CEILING_REASONS, GOODWILL_DUAL_CONTROL, HIGH_VALUE]
# Cells that may be left empty (see the module docstring).
OPTIONAL_COLUMNS = frozenset({*CEILING_REASONS, HIGH_VALUE})

# The default policy's limits are set in USD and carried to the other currencies by these round
# ratios (major units per USD), so 500 USD is about 460 EUR, 400 GBP, 75,000 JPY, 150 KWD, 1,800 AED
# and 1,900 SAR. Risk edits the resulting table; the ratios are not an exchange rate the app follows.
DEFAULT_RATIOS: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "EUR": Decimal("0.92"),
    "GBP": Decimal("0.80"),
    "JPY": Decimal("150"),
    "KWD": Decimal("0.30"),
    "AED": Decimal("3.6"),
    "SAR": Decimal("3.8"),
}
DEFAULT_CEILING_USD = Decimal("500")
DEFAULT_GOODWILL_DUAL_CONTROL_USD = Decimal("200")
DEFAULT_HIGH_VALUE_USD = Decimal("2000")


def scaled_from_usd(amount_usd: Decimal, currency: str) -> int:
    """A USD major amount carried to `currency` by its default ratio, in minor units, rounded down.

    Down is the conservative side for every limit: a lower ceiling approves
    fewer refunds automatically, a lower threshold asks for dual control more.
    """
    major = Decimal(amount_usd) * DEFAULT_RATIOS[currency]
    return int(major.scaleb(exponent(currency)).to_integral_value(rounding=ROUND_FLOOR))


def limits_row_from_usd(
    *, ceilings: dict[str, Decimal | None], goodwill_dual_control: Decimal, high_value: Decimal | None, currency: str
) -> dict[str, int | None]:
    """One currency's row from limits expressed in USD."""
    row: dict[str, int | None] = {
        reason: None if ceilings.get(reason) is None else scaled_from_usd(ceilings[reason], currency)
        for reason in CEILING_REASONS
    }
    row[GOODWILL_DUAL_CONTROL] = scaled_from_usd(goodwill_dual_control, currency)
    row[HIGH_VALUE] = None if high_value is None else scaled_from_usd(high_value, currency)
    return row


def default_limits_table() -> dict[str, dict[str, int | None]]:
    ceilings: dict[str, Decimal | None] = dict.fromkeys(CEILING_REASONS, DEFAULT_CEILING_USD)
    return {
        currency: limits_row_from_usd(
            ceilings=ceilings,
            goodwill_dual_control=DEFAULT_GOODWILL_DUAL_CONTROL_USD,
            high_value=DEFAULT_HIGH_VALUE_USD,
            currency=currency,
        )
        for currency in DEFAULT_RATIOS
    }
