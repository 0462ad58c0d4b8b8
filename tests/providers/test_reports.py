"""What every provider's report layouts share: exact amounts, times, the refund list layout."""

from __future__ import annotations

import io

import pytest

from providers.base import ReportFormatError, ReportRow
from providers.reports import major_text_to_minor, parse_created, read_header, refund_list_rows


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("-12.30", "USD", 1230),
        ("12.3", "USD", 1230),
        ("-0.01", "USD", 1),
        ("1000", "JPY", 1000),
        ("-1.234", "KWD", 1234),
        ("5", "EUR", 500),
        ("7.100", "EUR", 710),
        (" -19.99 ", "GBP", 1999),
        (".5", "EUR", 50),
    ],
)
def test_major_amounts_become_exact_minor_units(text: str, currency: str, minor: int) -> None:
    assert major_text_to_minor(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [("12.345", "USD"), ("1.5", "JPY"), ("abc", "USD"), ("", "USD"), ("1,50", "EUR"), ("10", "XXX"), (".", "USD")],
)
def test_amounts_that_cannot_be_read_exactly_are_refused(text: str, currency: str) -> None:
    with pytest.raises(ValueError):
        major_text_to_minor(text, currency)


def test_created_reads_unix_seconds_and_iso_times_as_utc() -> None:
    assert parse_created("1700000000") == 1700000000
    assert parse_created("2023-11-14 22:13:20") == 1700000000
    assert parse_created("2023-11-14T23:13:20+01:00") == 1700000000
    assert parse_created("") is None


def test_the_refund_list_layout_reads_statuses_with_the_providers_vocabulary() -> None:
    reader, header = read_header(
        io.StringIO("ID,Amount,Currency,Status,payment_id,refund_id\nx_1,700,chf,Done,pay_1,rf_1\nx_2,1,chf,open,,\n")
    )

    rows = list(refund_list_rows(reader, header, {"done": "succeeded", "open": "pending"}))

    assert rows == [
        ReportRow("x_1", 700, "CHF", "succeeded", None, "pay_1", "rf_1"),
        ReportRow("x_2", 1, "CHF", "pending", None, "", ""),
    ]


def test_a_report_without_a_header_row_is_refused() -> None:
    with pytest.raises(ReportFormatError, match="empty"):
        read_header(io.StringIO(""))
