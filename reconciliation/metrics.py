"""Gauges of reconciliation and the trial balance, read from the database at scrape time (see `core.metrics`).

Every process reports the same numbers whoever ran the reconciliation (the
nightly beat task, a finance upload), so nothing here is in-process.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Max, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from reconciliation.enums import RunStatus
from reconciliation.models import ReconciliationRun
from reconciliation.selectors import latest_current_runs, trial_balance_latest


def reconciliation_gauges() -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    """Per provider: the latest current run's mismatch, the last success, and the refunds checked over all days.

    A provider that never reconciled has no series (rather than a 1970
    timestamp that would read as "stale" for a provider settled by hand).
    """
    latest = latest_current_runs()
    mismatch = GaugeMetricFamily(
        "refund_mismatch_rate_pct",
        "Share of refunds in exception in the latest reconciled day (current run), per provider.",
        labels=["provider"],
    )
    ratio = GaugeMetricFamily(
        "reconciliation_mismatch_ratio",
        "Refunds in exception over refunds checked in the latest reconciled day (current run), 0..1 (target ≤ 0.0005).",
        labels=["provider"],
    )
    for run in latest:
        mismatch.add_metric([run.provider], float(run.mismatch_rate_pct))
        ratio.add_metric([run.provider], run.exception_count / run.item_count if run.item_count else 0.0)
    yield from (mismatch, ratio)
    success = GaugeMetricFamily(
        "reconciliation_last_success_timestamp_seconds",
        "Unix time the last successful reconciliation run of the provider finished.",
        labels=["provider"],
    )
    finished = (
        ReconciliationRun.objects.filter(status=RunStatus.SUCCEEDED, finished_at__isnull=False)
        .values("provider")
        .annotate(last=Max("finished_at"))
        .order_by("provider")
    )
    for row in finished:
        success.add_metric([row["provider"]], row["last"].timestamp())
    yield success
    # Sums over every current run (one per provider and day): a re-run replaces its day's numbers, so a
    # sum may go down — Prometheus takes that as a counter reset, which rate() and increase() allow for.
    checked = CounterMetricFamily(
        "reconciliation_refunds_checked", "Refunds checked by reconciliation, all current runs.", labels=["provider"]
    )
    mismatched = CounterMetricFamily(
        "reconciliation_refunds_mismatched",
        "Refunds found in exception by reconciliation, all current runs.",
        labels=["provider"],
    )
    sums = (
        ReconciliationRun.objects.filter(is_current=True)
        .values("provider")
        .annotate(checked=Sum("item_count"), mismatched=Sum("exception_count"))
        .order_by("provider")
    )
    for row in sums:
        checked.add_metric([row["provider"]], row["checked"] or 0)
        mismatched.add_metric([row["provider"]], row["mismatched"] or 0)
    yield from (checked, mismatched)


def database_gauges() -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    """Reconciliation (SPEC §7, §10), and the last trial balance check."""
    yield from reconciliation_gauges()
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
