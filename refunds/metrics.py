"""Prometheus metrics (SPEC §10).

Counters and histograms live in the process that observes them; with several
gunicorn workers set PROMETHEUS_MULTIPROC_DIR so /metrics aggregates them.
Rates that finance and risk watch are computed from the database at scrape
time, so every process reports the same number.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REFUND_CREATE_LATENCY_MS = Histogram(
    "refund_create_latency_ms",
    "Time to accept a refund create request, in milliseconds.",
    buckets=(2, 5, 10, 15, 25, 50, 100, 250, 500, 1000, 2500),
)
REFUND_OUTCOME_TOTAL = Counter("refund_outcome_total", "Refunds reaching a state.", ["state"])
WEBHOOK_REPLAY_DEDUP_TOTAL = Counter(
    "webhook_replay_dedup_total", "Provider webhook events received again and ignored."
)
