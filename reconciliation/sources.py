"""Reading the provider side of a day: its list API, or a report CSV it gave us.

Both sources yield the same normalised row, so staging and classification
never look at a provider's vocabulary:

    (provider_refund_id, amount_minor, currency, status, created_unix, payment_intent, refund_id, reversal)

`status` is succeeded / pending / failed; `created_unix` may be None (a report
without timestamps is taken as the run's day); `refund_id` is our public id
from the refund's metadata, used to recognise a refund whose provider id we
never learned; `reversal` is 1 for a row that is not a refund but gives a
failed refund's money back (Stripe's `refund_failure`), else 0
(docs/reconciliation.md "Provider report CSV" lists the layouts).

Rows are generated one at a time: a report of a million rows is never held in
memory, it streams from the file into PostgreSQL's COPY.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from core.money import CURRENCY_EXPONENTS as _EXPONENTS
from providers.base import Provider

Row = tuple[str, int, str, str, int | None, str, str, int]

# Stripe refund statuses (and ours) -> our three outcomes; see providers.stripe.client.
PROVIDER_STATUS = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}
# Stripe's balance report: the reporting categories that are refunds of a payment -> (status, reversal).
# `refund_failure` is the balance transaction that gives a failed refund's money back.
_STRIPE_CATEGORIES = {"refund": ("succeeded", 0), "refund_failure": ("failed", 1)}
_EPOCH = datetime(1970, 1, 1)


class ReportFormatError(ValueError):
    """The report cannot be read as a whole; a partial reconciliation would lie, so none is made."""


def rows_from_api(provider: Provider, *, created_gte: int, created_lt: int) -> Iterator[Row]:
    """Every refund the provider lists as created in [created_gte, created_lt)."""
    for record in provider.iter_refunds(created_gte=created_gte, created_lt=created_lt, page_size=100):
        yield row_from_record(record)


def row_from_record(record: dict[str, Any]) -> Row:
    """One normalised row from a listed (`iter_refunds`) or fetched (`fetch_refund().raw`) refund."""
    metadata = record.get("metadata") or {}
    created = record.get("created")
    return (
        str(record["id"]),
        int(record["amount"]),
        str(record.get("currency") or "").upper(),
        PROVIDER_STATUS.get(str(record.get("status")), "pending"),
        int(created) if created is not None else None,
        str(record.get("payment_intent") or ""),
        str(metadata.get("refund_id") or ""),
        0,
    )


def open_text(source: str | Path | IO[bytes] | IO[str]) -> io.TextIOBase:
    """A text stream over a path or an (uploaded) file; UTF-8 with or without BOM."""
    if isinstance(source, str | Path):
        return open(source, encoding="utf-8-sig", newline="")
    if isinstance(source, io.TextIOBase):
        return source
    if hasattr(source, "seek"):
        source.seek(0)
    return codecs.getreader("utf-8-sig")(source)  # type: ignore[return-value]


LAYOUT_STRIPE_BALANCE = "stripe_balance"
LAYOUT_REFUND_LIST = "refund_list"


def detect_layout(header: list[str]) -> str:
    """Which report layout a header row announces (names compared lower-case, trimmed)."""
    names = {name.strip().lower() for name in header}
    if {"source_id", "reporting_category", "gross", "currency"} <= names:
        return LAYOUT_STRIPE_BALANCE
    if {"id", "amount", "currency", "status"} <= names:
        return LAYOUT_REFUND_LIST
    raise ReportFormatError(
        "unknown report layout: expected Stripe's itemized balance report columns "
        "(source_id, reporting_category, gross, currency) or a refund list (id, amount, currency, status); "
        f"got {', '.join(header[:12])}"
    )


def rows_from_csv(lines: Iterable[str]) -> Iterator[Row]:
    """Parse a provider report CSV, choosing the layout from its header."""
    reader = csv.reader(lines)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise ReportFormatError("the report is empty (no header row)") from None
    except csv.Error as error:
        raise ReportFormatError(f"line 1: {error}") from None
    columns = {name: index for index, name in enumerate(header)}
    try:
        if detect_layout(header) == LAYOUT_STRIPE_BALANCE:
            yield from _stripe_balance_rows(reader, columns)
        else:
            yield from _refund_list_rows(reader, columns)
    except csv.Error as error:
        raise ReportFormatError(f"line {reader.line_num}: {error}") from None
    except UnicodeDecodeError as error:
        raise ReportFormatError(f"the report is not UTF-8 text ({error.reason})") from None


def _stripe_balance_rows(reader: Iterator[list[str]], columns: dict[str, int]) -> Iterator[Row]:
    """Stripe `balance_change_from_activity.itemized.*`: one row per balance transaction.

    Only rows whose reporting_category is `refund` or `refund_failure` are
    refunds; the rest (charges, fees, payouts…) are skipped. Amounts are in
    major units, negative for money out; we take the absolute value in minor
    units of the row's currency. This loop runs a million times for a busy
    day, hence the local names and the caches.
    """
    i_id, i_cat, i_gross, i_cur = (columns[k] for k in ("source_id", "reporting_category", "gross", "currency"))
    i_created = columns.get("created_utc", columns.get("created"))
    i_pi = columns.get("payment_intent_id")
    i_ref = columns.get("refund_metadata[refund_id]")
    categories, currencies, created = _STRIPE_CATEGORIES, _CurrencyCache(), _CreatedCache()
    to_minor = major_to_minor_text
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            category = categories.get(row[i_cat].strip())
            if category is None:
                continue
            currency = currencies[row[i_cur]]
            yield (
                row[i_id].strip(),
                to_minor(row[i_gross], currency),
                currency,
                category[0],
                created(row[i_created]) if i_created is not None else None,
                row[i_pi].strip() if i_pi is not None else "",
                row[i_ref].strip() if i_ref is not None else "",
                category[1],
            )
        except (IndexError, ValueError) as error:
            raise ReportFormatError(f"line {line}: {error}") from error


class _CurrencyCache(dict):
    """' usd' -> 'USD', computed once per spelling."""

    def __missing__(self, raw: str) -> str:
        value = self[raw] = raw.strip().upper()
        return value


class _CreatedCache:
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


def _refund_list_rows(reader: Iterator[list[str]], columns: dict[str, int]) -> Iterator[Row]:
    """The refund list layout: the fields of GET /v1/refunds, amounts in minor units."""
    i_id, i_amount, i_cur, i_status = (columns[k] for k in ("id", "amount", "currency", "status"))
    i_created = columns.get("created")
    i_pi = columns.get("payment_intent")
    i_ref = columns.get("metadata[refund_id]", columns.get("refund_id"))
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            raw_status = row[i_status].strip().lower()
            if raw_status not in PROVIDER_STATUS:
                raise ValueError(f"unknown status {raw_status!r}")
            amount = int(row[i_amount])
            if amount < 0:
                raise ValueError(f"negative amount {amount}")
            yield (
                row[i_id].strip(),
                amount,
                row[i_cur].strip().upper(),
                PROVIDER_STATUS[raw_status],
                parse_created(row[i_created]) if i_created is not None else None,
                row[i_pi].strip() if i_pi is not None else "",
                row[i_ref].strip() if i_ref is not None else "",
                0,
            )
        except (IndexError, ValueError) as error:
            raise ReportFormatError(f"line {line}: {error}") from error


def major_to_minor_text(text: str, currency: str) -> int:
    """'-12.30' USD -> 1230, exactly (no float); the sign is dropped (refunds are money out).

    More decimals than the currency has minor units is an error unless they are zeros.
    """
    exp = _EXPONENTS.get(currency)
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
