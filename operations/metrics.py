"""Scrape-time gauges of the synthetic refund (issue 16), from its `SyntheticRun` rows; the outbox relay's metrics.

Read from the database, so every web process reports the same last run whichever process
(a beat-driven worker, an operator's `manage.py synthetic_refund`) ran it.

The outbox relay (issue 17, operations.relay) counts in its own process: with PROMETHEUS_MULTIPROC_DIR
set for it as for every app process of its host, any scrape of the host shows them (core.metrics).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily

from core.partitions import partitions_status
from operations.models import SyntheticRun

# outcome: ok, error (the database refused the pass: the relay tries again after its wait).
OUTBOX_RELAY_PASSES_TOTAL = Counter("outbox_relay_passes_total", "Passes of the outbox relay, by outcome.", ["outcome"])
# outbox: provider (refunds' outbox messages), email (customer emails), webhook (endpoint tasks).
OUTBOX_RELAY_QUEUED_TOTAL = Counter(
    "outbox_relay_queued_total", "Tasks the outbox relay queued, by outbox.", ["outbox"]
)
OUTBOX_RELAY_LAST_SUCCESS = Gauge(
    "outbox_relay_last_success_timestamp_seconds",
    "When a pass of an outbox relay last completed (unix time); stale: no relay is queueing.",
    multiprocess_mode="max",
)
OUTBOX_RELAY_RECONNECTS_TOTAL = Counter(
    "outbox_relay_reconnects_total", "Times the outbox relay lost its LISTEN connection and listened again."
)


def database_gauges() -> Iterator[GaugeMetricFamily]:
    """`synthetic_refund_*`: the last finished run's result, duration and steps; when it last succeeded.

    No run yet: the families are exported empty (an alert on `absent()` or on staleness tells).
    """
    success = GaugeMetricFamily(
        "synthetic_refund_success", "1 if the last finished synthetic refund succeeded, else 0."
    )
    last_run = GaugeMetricFamily(
        "synthetic_refund_last_run_timestamp_seconds", "When the last synthetic refund finished (unix time)."
    )
    last_success = GaugeMetricFamily(
        "synthetic_refund_last_success_timestamp_seconds", "When the last successful synthetic refund finished."
    )
    duration = GaugeMetricFamily(
        "synthetic_refund_duration_seconds", "How long the last finished synthetic refund took, start to end."
    )
    step_seconds = GaugeMetricFamily(
        "synthetic_refund_step_seconds",
        "Seconds each step of the last finished synthetic refund took (the failed step is its last).",
        labels=["step"],
    )
    finished = SyntheticRun.objects.filter(ok__isnull=False, finished_at__isnull=False)
    last = finished.order_by("-finished_at", "-id").first()
    if last is not None:
        success.add_metric([], 1.0 if last.ok else 0.0)
        last_run.add_metric([], last.finished_at.timestamp())
        duration.add_metric([], max((last.finished_at - last.started_at).total_seconds(), 0.0))
        for step in last.steps or []:
            step_seconds.add_metric([str(step.get("step", ""))], float(step.get("seconds") or 0.0))
    good = finished.filter(ok=True).order_by("-finished_at", "-id").values_list("finished_at", flat=True).first()
    if good is not None:
        last_success.add_metric([], good.timestamp())
    yield success
    yield last_run
    yield last_success
    yield duration
    yield step_seconds
    yield handoff_gauge()


def handoff_gauge() -> GaugeMetricFamily:
    """`outbox_handoff_relay`: whether this installation relies on a relay (OUTBOX_HANDOFF=relay).

    Exported by the web processes, which are always scraped, because the relay's own
    `outbox_relay_last_success_timestamp_seconds` is missing exactly when no relay ever
    started after a deploy emptied PROMETHEUS_MULTIPROC_DIR: OutboxRelayDown needs to know
    a relay is expected before it can treat "absent" as "down".
    """
    relay = GaugeMetricFamily(
        "outbox_handoff_relay",
        "1 if outbox work is handed to the workers by manage.py outbox_relay (OUTBOX_HANDOFF=relay), "
        "0 if every commit publishes its own tasks.",
    )
    relay.add_metric([], 1.0 if settings.OUTBOX_HANDOFF == "relay" else 0.0)
    return relay


def partition_gauges() -> Iterator[GaugeMetricFamily]:
    """`db_partition_*` of each monthly-partitioned table (PostgreSQL; none on SQLite)."""
    ahead = GaugeMetricFamily(
        "db_partition_months_ahead",
        "Months after the current one whose partition exists (beat keeps PARTITION_MONTHS_AHEAD).",
        labels=["table"],
    )
    default_rows = GaugeMetricFamily(
        "db_partition_default_rows",
        "Rows in the table's default partition, counted up to 10000 (0 expected: a month lacked its partition).",
        labels=["table"],
    )
    for status in partitions_status():
        ahead.add_metric([status.table], float(status.months_ahead))
        default_rows.add_metric([status.table], float(status.default_rows))
    yield ahead
    yield default_rows
