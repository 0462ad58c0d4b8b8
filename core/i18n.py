"""Speaking to a customer in their language: which language, and amounts and times in their locale.

Shared by the status page and the emails, so both say "1.234,50 €" and
"23. November 2025, 18:36 UTC" the same way for the same customer.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import get_currency_symbol
from django.conf import settings
from django.utils import translation

from core.money import exponent, is_known_currency, minor_to_major

_LATIN_SYMBOL = re.compile(r"[A-Za-z$]")


def supported_language(code: str | None) -> str | None:
    """'de-CH', 'de_ch' or 'de' → 'de' when German is offered; None when not offered."""
    if not code or len(code) > 20:
        return None
    try:
        return translation.get_supported_language_variant(code.replace("_", "-").lower())
    except LookupError:
        return None


def customer_language(*, requested: str | None, customer_locale: str) -> str:
    """The customer's language: the page's switch (`?lang=`) first, then the customer record, then the default."""
    return supported_language(requested) or supported_language(customer_locale) or settings.LANGUAGE_CODE


@lru_cache(maxsize=128)
def babel_locale(language: str, customer_locale: str = "") -> Locale:
    """The customer's own locale (e.g. de_CH, for its number format) when it is in the page's language."""
    try:
        customer = Locale.parse(customer_locale.replace("-", "_")) if customer_locale else None
    except (ValueError, TypeError, UnknownLocaleError):
        customer = None
    if customer is not None and customer.language == language:
        return customer
    return Locale.parse(language)


@lru_cache(maxsize=8)
def display_time_zone() -> tzinfo:
    # Customers have no time zone on record yet; times say which zone they are in.
    return ZoneInfo(getattr(settings, "STATUS_PAGE_TIME_ZONE", None) or settings.TIME_ZONE)


def format_amount(amount_minor: int, currency: str, locale: Locale) -> str:
    """'$1,234.50', '1.234,50 €', '‏42.50 US$' — Babel's pattern for the locale, ISO minor units.

    The number of decimals is the currency's ISO 4217 exponent, never CLDR's
    display digits: they differ for some currencies (IQD has 3 minor digits,
    CLDR shows 0; LBP 2 and 0), and rounding there would show a customer an
    amount that is not the one refunded.
    """
    digits = exponent(currency)
    # A copy: the locale's pattern object is Babel's shared, cached one.
    pattern = copy.copy(locale.currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    text = pattern.apply(minor_to_major(amount_minor, currency), locale, currency=currency, currency_digits=False)
    if locale.character_order == "right-to-left":
        symbol = get_currency_symbol(currency, locale=locale)
        if _LATIN_SYMBOL.search(symbol) and symbol in text:
            # In right-to-left text the bidi algorithm tears "US$" into "$US"; an
            # isolate (LRI … PDI) keeps a Latin symbol in one piece, beside the number.
            text = text.replace(symbol, f"\u2066{symbol}\u2069")
    return text


def format_amount_code(amount_minor: int, currency: str, locale: Locale) -> str:
    """'1,234.50 USD', '1.234,50 EUR', '450,000 JPY': the locale's digits and separators, then the ISO code.

    For staff, who read many currencies side by side: the code is never
    ambiguous ("$" is also CAD, AUD…), and the decimals are the ISO 4217
    exponent, as in `format_amount`.
    """
    digits = exponent(currency)
    pattern = copy.copy(locale.decimal_formats[None])
    pattern.frac_prec = (digits, digits)
    return f"{pattern.apply(minor_to_major(amount_minor, currency), locale)} {currency}"


def staff_locale() -> Locale:
    """How staff read numbers and dates (STAFF_LOCALE): the console, the finance screens, the Slack card."""
    return Locale.parse(getattr(settings, "STAFF_LOCALE", "en_GB"))


def staff_money(amount_minor: int | None, currency: str) -> str:
    """'1,234.50 USD'; '' without an amount; plain minor units named as such for a currency we do not know."""
    if amount_minor is None:
        return ""
    if not is_known_currency(currency):
        return f"{amount_minor} minor units {currency}".strip()
    return format_amount_code(amount_minor, currency, staff_locale())


def zone_label(local: datetime) -> str:
    """'CET', 'EST', 'UTC', or 'UTC+04' where the zone database has no abbreviation."""
    name = local.tzname() or "UTC"
    return f"UTC{name}" if name[:1] in "+-" else name


def format_moment(moment: datetime, locale: Locale, zone: tzinfo, *, date_style: str = "medium") -> str:
    """'2 Dec 2026, 14:05 CET' in `zone`, the locale's order and words, with the zone named."""
    local = moment.astimezone(zone)
    pattern = locale.datetime_formats["medium"]
    text = pattern.format(format_time(local, "short", locale=locale), format_date(local, date_style, locale=locale))
    # A no-break space: the zone never wraps onto a line of its own on a phone.
    return f"{text}\u00a0{zone_label(local)}"


def format_when(moment: datetime, locale: Locale) -> str:
    """'23 November 2025, 18:36 UTC' in the locale's own order, words and digits."""
    zone = display_time_zone()
    local = moment.astimezone(zone)
    pattern = locale.datetime_formats["medium"]
    text = pattern.format(format_time(local, "short", locale=locale), format_date(local, "long", locale=locale))
    # A no-break space: the zone never wraps onto a line of its own on a phone.
    return f"{text}\u00a0{format_datetime(local, 'z', tzinfo=zone, locale=locale)}"
