"""Stripe's report CSVs: the itemized balance report, and the refund list layout (SPEC §7).

docs/reconciliation.md "Provider report CSV" describes both layouts; the
header row says which one a file is. Statuses of the refund list are read with
the one Stripe status map (`providers.stripe.normalise.STATUS_MAP`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from providers.base import ReportFormatError, ReportRow
from providers.reports import (
    REFUND_LIST_COLUMNS,
    REFUND_LIST_DESCRIPTION,
    CreatedCache,
    CurrencyCache,
    guarded,
    has_columns,
    major_text_to_minor,
    new_row,
    read_header,
    refund_list_rows,
    unknown_layout,
)
from providers.stripe.normalise import STATUS_MAP

LAYOUT_STRIPE_BALANCE = "stripe_balance"
LAYOUT_REFUND_LIST = "refund_list"
BALANCE_COLUMNS = ("source_id", "reporting_category", "gross", "currency")
# The reporting categories that are refunds of a payment -> (status, reversal).
# `refund_failure` is the balance transaction that gives a failed refund's money back.
_CATEGORIES = {"refund": ("succeeded", False), "refund_failure": ("failed", True)}
_EXPECTED = (
    "Stripe's itemized balance report columns (source_id, reporting_category, gross, currency) "
    f"or {REFUND_LIST_DESCRIPTION}"
)


def detect_layout(header: Sequence[str]) -> str:
    """Which layout a header row announces (names compared trimmed, lower-case); `ReportFormatError` if none."""
    if has_columns(header, BALANCE_COLUMNS):
        return LAYOUT_STRIPE_BALANCE
    if has_columns(header, REFUND_LIST_COLUMNS):
        return LAYOUT_REFUND_LIST
    raise unknown_layout(header, _EXPECTED)


def report_rows(lines: Iterable[str]) -> Iterator[ReportRow]:
    """Parse a Stripe report (either layout, chosen by its header row) into rows, one at a time."""
    reader, header = read_header(lines)
    if detect_layout(header) == LAYOUT_STRIPE_BALANCE:
        rows = balance_rows(reader, header)
    else:
        rows = refund_list_rows(reader, header, STATUS_MAP)
    yield from guarded(reader, rows)


def balance_rows(reader: Iterator[list[str]], header: Sequence[str]) -> Iterator[ReportRow]:
    """Stripe `balance_change_from_activity.itemized.*`: one row per balance transaction.

    Only rows whose reporting_category is `refund` or `refund_failure` are
    refunds; the rest (charges, fees, payouts…) are skipped. Amounts are in
    major units, negative for money out; we take the absolute value in minor
    units of the row's currency. This loop runs a million times for a busy
    day, hence the local names and the caches.
    """
    columns = {name: index for index, name in enumerate(header)}
    i_id, i_cat, i_gross, i_cur = (columns[k] for k in BALANCE_COLUMNS)
    i_created = columns.get("created_utc", columns.get("created"))
    i_pi = columns.get("payment_intent_id")
    i_ref = columns.get("refund_metadata[refund_id]")
    categories, currencies, created = _CATEGORIES, CurrencyCache(), CreatedCache()
    to_minor, make = major_text_to_minor, new_row
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            category = categories.get(row[i_cat].strip())
            if category is None:
                continue
            currency = currencies[row[i_cur]]
            yield make(
                (
                    row[i_id].strip(),
                    to_minor(row[i_gross], currency),
                    currency,
                    category[0],
                    created(row[i_created]) if i_created is not None else None,
                    row[i_pi].strip() if i_pi is not None else "",
                    row[i_ref].strip() if i_ref is not None else "",
                    category[1],
                )
            )
        except (IndexError, ValueError) as error:
            raise ReportFormatError(f"line {line}: {error}") from error
