"""Reading provider report CSVs: the parts every provider's layouts share (SPEC §7).

Each provider package names its own layouts and vocabulary (Stripe's balance
report lives in `providers/stripe/reports.py`); what is the same for all is
here: the header row, exact amounts, times, and the refund list layout - one
row per refund with the columns of a refunds listing, amounts in minor units
- whose status words each provider maps with its own vocabulary.

Everything is strict and streaming: a row that cannot be read exactly fails the
whole report naming its line (a partial reconciliation would lie), and rows are
generated one at a time, so a report of a million rows is never held in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial

from core.money import CURRENCY_EXPONENTS
from providers.base import OutcomeStatus, ReportFormatError, ReportRow

_EPOCH = datetime(1970, 1, 1)

# The refund list layout: required columns, and the optional ones with the names they may go by.
REFUND_LIST_COLUMNS = ("id", "amount", "currency", "status")
REFUND_LIST_DESCRIPTION = "a refund list (id, amount, currency, status)"

# ReportRow(...) runs a Python-level __new__; building the tuple directly is what namedtuple's own
# _make does, and it matters in loops that run a million times.
new_row: Callable[[tuple], ReportRow] = partial(tuple.__new__, ReportRow)


def normalise_header(header: Sequence[str]) -> list[str]:
    """Column names as compared: trimmed, lower-case (reports come from spreadsheets too)."""
    return [name.strip().lower() for name in header]


def has_columns(header: Sequence[str], required: Iterable[str]) -> bool:
    return set(required) <= set(normalise_header(header))


def unknown_layout(header: Sequence[str], expected: str) -> ReportFormatError:
    """The error for a header row that announces no layout we read."""
    return ReportFormatError(f"unknown report layout: expected {expected}; got {', '.join(header[:12])}")


def read_header(lines: Iterable[str]) -> tuple[Iterator[list[str]], list[str]]:
    """A CSV reader positioned after the header row, and that row normalised."""
    reader = csv.reader(lines)
    try:
        header = normalise_header(next(reader))
    except StopIteration:
        raise ReportFormatError("the report is empty (no header row)") from None
    except csv.Error as error:
        raise ReportFormatError(f"line 1: {error}") from None
    return reader, header


def guarded(reader: Iterator[list[str]], rows: Iterator[ReportRow]) -> Iterator[ReportRow]:
    """`rows`, with CSV and encoding trouble turned into `ReportFormatError` naming the line."""
    try:
        yield from rows
    except csv.Error as error:
        raise ReportFormatError(f"line {getattr(reader, 'line_num', '?')}: {error}") from None
    except UnicodeDecodeError as error:
        raise ReportFormatError(f"the report is not UTF-8 text ({error.reason})") from None


def refund_list_rows(
    reader: Iterator[list[str]], header: Sequence[str], statuses: Mapping[str, OutcomeStatus]
) -> Iterator[ReportRow]:
    """The refund list layout: one row per refund, amounts in minor units.

    Columns: id, amount, currency, status (required); created, payment_intent
    (or payment_id), metadata[refund_id] (or refund_id). `statuses` maps the
    provider's status words (lower-case) to ours; any other word fails the report.
    """
    columns = {name: index for index, name in enumerate(header)}
    i_id, i_amount, i_cur, i_status = (columns[k] for k in REFUND_LIST_COLUMNS)
    i_created = columns.get("created")
    i_payment = columns.get("payment_intent", columns.get("payment_id"))
    i_ref = columns.get("metadata[refund_id]", columns.get("refund_id"))
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            raw_status = row[i_status].strip().lower()
            status = statuses.get(raw_status)
            if status is None:
                raise ValueError(f"unknown status {raw_status!r}")
            amount = int(row[i_amount])
            if amount < 0:
                raise ValueError(f"negative amount {amount}")
            yield new_row(
                (
                    row[i_id].strip(),
                    amount,
                    row[i_cur].strip().upper(),
                    status,
                    parse_created(row[i_created]) if i_created is not None else None,
                    row[i_payment].strip() if i_payment is not None else "",
                    row[i_ref].strip() if i_ref is not None else "",
                    False,
                )
            )
        except (IndexError, ValueError) as error:
            raise ReportFormatError(f"line {line}: {error}") from error


def major_text_to_minor(text: str, currency: str) -> int:
    """'-12.30' USD -> 1230, exactly (no float); the sign is dropped (report amounts of refunds are money out).

    More decimals than the currency has minor units is an error unless they are zeros.
    """
    exp = CURRENCY_EXPONENTS.get(currency)
    if exp is None:
        raise ValueError(f"unknown currency {currency!r} (its minor unit is needed to read major amounts)")
    whole, _, fraction = text.strip().lstrip("+-").partition(".")
    if len(fraction) == exp and whole.isdigit() and (not fraction or fraction.isdigit()):
        return int(whole + fraction)  # the common case: exactly the currency's decimals
    if not (whole or fraction) or (whole and not whole.isdigit()) or (fraction and not fraction.isdigit()):
        raise ValueError(f"not an amount: {text!r}")
    if fraction[exp:].strip("0"):
        raise ValueError(f"{text!r} has more decimals than {currency} allows")
    fraction = (fraction + "0" * exp)[:exp]
    return int(whole or "0") * 10**exp + int(fraction or "0")


def parse_created(text: str) -> int | None:
    """Unix seconds from a unix number or an ISO 8601 time; without an offset it is UTC."""
    value = text.strip()
    if not value:
        return None
    if value.isdigit():
        return int(value)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        return int((moment - _EPOCH).total_seconds())
    return int(moment.astimezone(UTC).timestamp())


class CurrencyCache(dict):
    """' usd' -> 'USD', computed once per spelling."""

    def __missing__(self, raw: str) -> str:
        value = self[raw] = raw.strip().upper()
        return value


class CreatedCache:
    """`parse_created`, with the common 'YYYY-MM-DD HH:MM:SS' UTC form read through a per-minute cache."""

    def __init__(self) -> None:
        self.minutes: dict[str, int] = {}

    def __call__(self, text: str) -> int | None:
        if len(text) == 19 and text[16] == ":" and text[17:].isdigit():
            minute = self.minutes.get(text[:16])
            if minute is None:
                minute = self.minutes[text[:16]] = parse_created(text[:16] + ":00")
            return minute + int(text[17:])
        return parse_created(text)
