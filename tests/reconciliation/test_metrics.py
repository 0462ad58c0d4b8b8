"""Reconciliation gauges at scrape time: last success, mismatch ratio, refunds checked and mismatched."""

from __future__ import annotations

import pytest

from reconciliation.enums import RunSource
from reconciliation.services import reconciliation_run
from tests.reconciliation.factories import provider_report, provider_row, refund_settled, today
from tests.support.samples import scraped_value

pytestmark = pytest.mark.django_db


def run_file(actor, rows):
    return reconciliation_run(
        day=today(), provider="stripe", source=RunSource.FILE, file=provider_report(rows), actor=actor
    )


def test_a_provider_never_reconciled_has_no_series(db):
    assert scraped_value("reconciliation_last_success_timestamp_seconds", provider="stripe") is None
    assert scraped_value("reconciliation_mismatch_ratio", provider="stripe") is None


def test_a_run_exports_its_time_ratio_and_counts_and_a_rerun_replaces_its_day(system_actor):
    matched, off = refund_settled(), refund_settled()
    run = run_file(system_actor, [provider_row(matched), provider_row(off, amount=off.amount_minor + 5)])
    assert (run.item_count, run.exception_count) == (2, 1)

    assert scraped_value("reconciliation_last_success_timestamp_seconds", provider="stripe") == pytest.approx(
        run.finished_at.timestamp()
    )
    assert scraped_value("reconciliation_mismatch_ratio", provider="stripe") == 0.5
    assert scraped_value("refund_mismatch_rate_pct", provider="stripe") == 50.0
    assert scraped_value("reconciliation_refunds_checked_total", provider="stripe") == 2
    assert scraped_value("reconciliation_refunds_mismatched_total", provider="stripe") == 1

    rerun = run_file(system_actor, [provider_row(matched), provider_row(off)])  # the corrected report
    assert scraped_value("reconciliation_mismatch_ratio", provider="stripe") == 0.0
    assert scraped_value("reconciliation_refunds_checked_total", provider="stripe") == 2  # the day counted once
    assert scraped_value("reconciliation_refunds_mismatched_total", provider="stripe") == 0
    assert scraped_value("reconciliation_last_success_timestamp_seconds", provider="stripe") == pytest.approx(
        rerun.finished_at.timestamp()
    )
