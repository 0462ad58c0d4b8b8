"""The provider side of a run comes from the run's provider: its listing or its report, read through the contract.

How each layout reads is tested with its provider (tests/providers/stripe/test_reports.py,
tests/providers/manual/, tests/providers/test_reports.py).
"""

import io

import pytest

from providers.base import ReportFormatError, ReportRow
from providers.manual import ManualProvider
from providers.registry import get_provider
from reconciliation.sources import open_text, rows_from_api, rows_from_report

REPORT = "id,amount,currency,status\nre_1,1250,usd,requires_action\n"


class _Listing:
    def __init__(self, rows):
        self.rows, self.asked = rows, []

    def iter_refunds(self, *, created_gte, created_lt, page_size=100):
        self.asked.append((created_gte, created_lt, page_size))
        return iter(self.rows)


def test_api_rows_are_the_providers_listing_of_the_window_in_pages_of_100():
    row = ReportRow("re_1", 100, "USD", "succeeded", 5, "pi_1", "rf_1")
    listing = _Listing([row])

    assert list(rows_from_api(listing, created_gte=1, created_lt=10)) == [row]
    assert listing.asked == [(1, 10, 100)]


def test_report_rows_are_read_with_the_runs_provider_layouts():
    assert list(rows_from_report(get_provider("stripe"), io.StringIO(REPORT))) == [
        ReportRow("re_1", 1250, "USD", "pending", None, "", "")
    ]
    balance = "source_id,reporting_category,gross,currency\nre_1,refund,-12.50,usd\n"
    assert [row.amount_minor for row in rows_from_report(get_provider("stripe"), io.StringIO(balance))] == [1250]
    # Stripe's balance report holds no payout made by hand.
    with pytest.raises(ReportFormatError, match="unknown report layout"):
        list(rows_from_report(ManualProvider(), io.StringIO(balance)))


@pytest.mark.parametrize(
    "source",
    [
        lambda path: str(path),
        lambda path: path,
        lambda path: io.BytesIO(b"\xef\xbb\xbf" + path.read_bytes()),
        lambda path: io.StringIO(path.read_text()),
    ],
)
def test_open_text_reads_paths_and_uploads_as_utf8_without_the_bom(tmp_path, source):
    path = tmp_path / "report.csv"
    path.write_text(REPORT)

    stream = open_text(source(path))
    try:
        assert stream.read() == REPORT
    finally:
        stream.close()
