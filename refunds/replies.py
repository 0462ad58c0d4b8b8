"""Customer replies as templates (issue 12): what a reply may say, and the policy's default texts.

A drafted reply is stored as a template with placeholders — `{amount}`,
`{order}`, `{item}`, `{customer_name}`, `{timing}` — and rendered from the
refund only when an email (or the console preview) is built
(`notifications.replies.reply_render`), in the customer's locale. So an
amount edited after the draft was written is the amount the customer reads.

An agent may reword a reply but never contradict the numbers: a reply that
states a money amount other than the refund's is refused
(`ERR.VALIDATION.reply.amount_mismatch`), and so is a placeholder we do not
know (`ERR.VALIDATION.reply.placeholder`). Which numbers count as money is
decided by `money_mentions` below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_symbol

from core.errors import ERR_REPLY_AMOUNT_MISMATCH, ERR_REPLY_PLACEHOLDER, DomainError
from core.money import CURRENCY_EXPONENTS, exponent, minor_to_major

PLACEHOLDERS = ("amount", "order", "item", "customer_name", "timing")
# Filled in when the policy drafts a cancellation-fee decline: facts of the policy at that moment.
FEE_PLACEHOLDERS = ("percent", "refundable")
REPLY_LANGUAGES = ("en", "de", "ar")
REPLY_KINDS = ("approve", "decline", "decline_fee")

_PLACEHOLDER = re.compile(r"\{([^{}\s]{0,40})\}")

DEFAULT_REPLY_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "approve": (
            "Good news: we have approved your refund of {amount} for order {order}. "
            "It is on its way back to your original payment method."
        ),
        "decline": (
            "Thank you for your refund request of {amount} for order {order}. We have looked at it carefully "
            "and unfortunately cannot approve it."
        ),
        "decline_fee": (
            "Thank you for your refund request of {amount}. Under our cancellation terms, a cancellation at "
            "this point is refunded {percent} % of the price, so we can refund up to {refundable} for this booking."
        ),
    },
    "de": {
        "approve": (
            "Gute Nachricht: Wir haben Ihre Erstattung über {amount} für die Bestellung {order} genehmigt. "
            "Der Betrag wird auf Ihr ursprüngliches Zahlungsmittel zurückgebucht."
        ),
        "decline": (
            "Vielen Dank für Ihren Erstattungsantrag über {amount} für die Bestellung {order}. Wir haben ihn "
            "sorgfältig geprüft, können ihn aber leider nicht genehmigen."
        ),
        "decline_fee": (
            "Vielen Dank für Ihren Erstattungsantrag über {amount}. Nach unseren Stornobedingungen erstatten wir "
            "bei einer Stornierung zu diesem Zeitpunkt {percent} % des Preises. Für diese Buchung können wir "
            "daher höchstens {refundable} erstatten."
        ),
    },
    "ar": {
        "approve": (
            "أخبار سارة: لقد وافقنا على استرداد مبلغ {amount} للطلب {order}. "
            "سيُعاد المبلغ إلى وسيلة الدفع الأصلية التي استخدمتها."
        ),
        "decline": (
            "شكرًا لك على طلب استرداد مبلغ {amount} للطلب {order}. لقد راجعنا طلبك بعناية، "
            "ونأسف لعدم تمكننا من الموافقة عليه."
        ),
        "decline_fee": (
            "شكرًا لك على طلب استرداد مبلغ {amount}. وفقًا لشروط الإلغاء لدينا، يُسترد {percent}٪ من السعر "
            "عند الإلغاء في هذه المرحلة، لذا يمكننا استرداد ما يصل إلى {refundable} لهذا الحجز."
        ),
    },
}


def default_reply_templates() -> dict[str, dict[str, str]]:
    return {language: dict(kinds) for language, kinds in DEFAULT_REPLY_TEMPLATES.items()}


def reply_fill(template: str, values: dict[str, str]) -> str:
    """Replace the placeholders named in `values`; every other `{…}` stays as written.

    Not `str.format`: a reply written before templates (or any text with a
    brace in it) must come out as written, never raise.
    """
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def placeholders_unknown(template: str, allowed: tuple[str, ...] = PLACEHOLDERS) -> list[str]:
    return sorted({name for name in _PLACEHOLDER.findall(template) if name not in allowed})


def placeholders_allowed_text(allowed: tuple[str, ...] = PLACEHOLDERS) -> str:
    return ", ".join(f"{{{name}}}" for name in allowed)


# --- money in free text -----------------------------------------------------------

# Digits a customer-facing text may use besides ASCII: Arabic-Indic and Extended Arabic-Indic.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫٬", "01234567890123456789.,")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,'’]\d+)*")
_SPACES = " \u00a0\u202f\u2009\u200f\u200e\u2066\u2069"


@lru_cache(maxsize=64)
def _own_markers(currency: str) -> frozenset[str]:
    """What may stand beside an amount of `currency`: its code and its symbols in our languages.

    "$" and "¥" are the symbols of more than one currency; they count as the
    refund's own when its currency writes them ("$5" on a USD refund), never
    as another's ("€30.00" on a USD refund is another currency's money).
    """
    own = {currency}
    for language in REPLY_LANGUAGES:
        symbol = get_currency_symbol(currency, locale=language).strip(_SPACES)
        if symbol:
            own.add(symbol)
            own.add(symbol.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))  # "US$" also as "$"
    own.discard("")
    return frozenset(own)


@lru_cache(maxsize=1)
def _currency_markers() -> tuple[str, ...]:
    """Every currency's markers (`_own_markers`: ISO codes, $, US$, €, د.ك.‏ …) and the bare symbols, longest first."""
    markers = {"$", "€", "£", "¥"}
    for code in CURRENCY_EXPONENTS:
        markers |= _own_markers(code)
    return tuple(sorted(markers, key=len, reverse=True))


@dataclass(frozen=True)
class MoneyMention:
    text: str
    value: Decimal
    # The currency code or symbol beside the number, "" when it is money by its decimals alone.
    marker: str = ""


def _value(token: str, digits: int) -> Decimal | None:
    """The number a token states: the last separator is the decimal point when 1 to `digits` digits follow it
    (or exactly 2 when the currency has none), else every separator groups thousands."""
    parts = re.split(r"[.,'’]", token)
    last = parts[-1]
    decimal_digits = digits or 2
    try:
        if len(parts) > 1 and 1 <= len(last) <= decimal_digits and token[-len(last) - 1] in ".,":
            return Decimal("".join(parts[:-1]) + "." + last)
        return Decimal("".join(parts))
    except InvalidOperation:
        return None


def _marks(before: str, after: str, marker: str) -> bool:
    """`marker` stands right before or after the number, as a word of its own when it is letters ("5 USD",
    not "5 USDA"; "AED 5", not "MAED 5")."""
    if before.endswith(marker):
        rest = before[: -len(marker)]
        return not (marker[0].isalpha() and rest[-1:].isalpha())
    if after.startswith(marker):
        rest = after[len(marker) :]
        return not (marker[-1].isalpha() and rest[:1].isalpha())
    return False


def money_mentions(text: str, currency: str) -> list[MoneyMention]:
    """The money amounts a text states, as numbers in major units.

    A number is money when a currency code or symbol stands right before or
    after it ("$5", "5,00 €", "5 USD"), or when it has exactly the currency's
    decimals ("5.00" for USD) — "30 days", "order 4811" and "5–10 business
    days" are not. Placeholders are not text yet and are skipped.
    """
    plain = _PLACEHOLDER.sub(" ", text).translate(_DIGITS)
    digits = exponent(currency)
    markers = _currency_markers()
    mentions = []
    for match in _NUMBER.finditer(plain):
        token = match.group(0)
        before = plain[: match.start()].rstrip(_SPACES)
        after = plain[match.end() :].lstrip(_SPACES)
        marker = next((m for m in markers if _marks(before, after, m)), "")
        marked = bool(marker)
        separators = [i for i, ch in enumerate(token) if ch in ".,"]
        exact_decimals = digits > 0 and bool(separators) and len(token) - separators[-1] - 1 == digits
        if not (marked or exact_decimals):
            continue
        value = _value(token, digits)
        if value is not None:
            mentions.append(MoneyMention(token, value, marker))
    return mentions


def reply_check_placeholders(template: str, *, extra: tuple[str, ...] = ()) -> None:
    """Refuse a placeholder we cannot fill (`ERR.VALIDATION.reply.placeholder`), naming the allowed ones."""
    allowed = PLACEHOLDERS + extra
    unknown = placeholders_unknown(template, allowed)
    if unknown:
        raise DomainError(
            ERR_REPLY_PLACEHOLDER,
            f"Unknown placeholder{'s' if len(unknown) > 1 else ''} "
            f"{', '.join('{' + name + '}' for name in unknown)}. "
            f"A reply may use {placeholders_allowed_text(allowed)}.",
            unknown=unknown,
            allowed=list(allowed),
        )


def reply_check_amounts(template: str, *, amount_minor: int | None, currency: str) -> None:
    """Refuse a reply stating an amount other than `amount_minor` (`ERR.VALIDATION.reply.amount_mismatch`).

    With `amount_minor` None (a policy template, for no refund yet) any stated
    amount is refused: the amount is always the `{amount}` placeholder.
    """
    expected = None if amount_minor is None else minor_to_major(amount_minor, currency)
    own = _own_markers(currency)
    for mention in money_mentions(template, currency):
        if expected is not None and mention.value == expected and (not mention.marker or mention.marker in own):
            continue
        refund = "" if expected is None else f", but the refund is {expected:.{exponent(currency)}f} {currency}"
        raise DomainError(
            ERR_REPLY_AMOUNT_MISMATCH,
            f"The reply states the amount {mention.text}{refund}. Write {{amount}} where the amount goes: it is "
            "filled in from the refund when the email is sent, so it always matches.",
            stated=mention.text,
        )


def reply_check(*, template: str, amount_minor: int | None, currency: str) -> None:
    """Both checks of a reply an agent wrote: known placeholders, and no amount but the refund's."""
    reply_check_placeholders(template)
    reply_check_amounts(template, amount_minor=amount_minor, currency=currency)
