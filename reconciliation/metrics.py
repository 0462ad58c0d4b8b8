"""Gauges of reconciliation and the trial balance, read from the database at scrape time (see `core.metrics`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from reconciliation.selectors import latest_current_runs, trial_balance_latest


def database_gauges() -> Iterator[GaugeMetricFamily]:
    """The latest current run per provider (SPEC §7, §10), and the last trial balance check."""
    mismatch = GaugeMetricFamily(
        "refund_mismatch_rate_pct",
        "Share of refunds in exception in the latest reconciled day (current run), per provider.",
        labels=["provider"],
    )
    for run in latest_current_runs():
        mismatch.add_metric([run.provider], float(run.mismatch_rate_pct))
    yield mismatch
    check = trial_balance_latest()
    if check is None:
        return
    balanced = GaugeMetricFamily(
        "ledger_trial_balance_ok", "1 when all postings summed to zero per currency at the last check, else 0."
    )
    balanced.add_metric([], 1.0 if check.is_balanced else 0.0)
    yield balanced
    imbalance = GaugeMetricFamily(
        "ledger_trial_balance_minor",
        "Sum of all postings per currency at the last check (minor units; must be 0).",
        labels=["currency"],
    )
    for currency, total in sorted(check.balances.items()):
        imbalance.add_metric([currency], float(total))
    yield imbalance
