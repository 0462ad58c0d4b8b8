"""What the customer is told of their store credit (issue 15): on the status page and in the completion email."""

from __future__ import annotations

from dataclasses import dataclass

from babel.core import Locale
from babel.dates import format_date

from core.i18n import display_time_zone, format_amount
from credits.enums import CreditStatus
from credits.selectors import refund_credit
from refunds.models import Refund


@dataclass(frozen=True)
class StoreCreditFacts:
    code: str
    amount_text: str  # issued, bonus included
    bonus_text: str  # "" without a bonus
    balance_text: str
    expires_text: str  # "" when it never expires
    status: str


def store_credit_facts(refund: Refund, locale: Locale) -> StoreCreditFacts | None:
    """The refund's credit for its customer, formatted in their locale; None when not paid as store credit."""
    credit = refund_credit(refund)
    if credit is None:
        return None
    expires = credit.expires_at
    return StoreCreditFacts(
        code=credit.code,
        amount_text=format_amount(credit.amount_minor, credit.currency, locale),
        bonus_text=format_amount(credit.bonus_minor, credit.currency, locale) if credit.bonus_minor else "",
        balance_text=format_amount(credit.current_balance_minor, credit.currency, locale),
        expires_text=format_date(expires.astimezone(display_time_zone()), "long", locale=locale) if expires else "",
        status=credit.current_status if credit.current_status != CreditStatus.ACTIVE else "",
    )
