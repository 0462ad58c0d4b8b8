"""Prometheus metrics of the refund domain (SPEC §10); the scrape itself is `core.metrics`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from refunds.enums import PolicyOutcome
from refunds.models import Refund

REFUND_CREATE_LATENCY_MS = Histogram(
    "refund_create_latency_ms",
    "Time to accept a refund create request, in milliseconds.",
    buckets=(2, 5, 10, 15, 25, 50, 100, 250, 500, 1000, 2500),
)
REFUND_OUTCOME_TOTAL = Counter("refund_outcome_total", "Refunds reaching a state.", ["state"])
WEBHOOK_REPLAY_DEDUP_TOTAL = Counter(
    "webhook_replay_dedup_total", "Provider webhook events received again and ignored."
)
# Issue 16 kill switch: requests the policy would have approved, sent to review because auto-approval was paused.
REFUND_AUTO_APPROVAL_PAUSED_TOTAL = Counter(
    "refund_auto_approval_paused_total",
    "Refund requests sent to review because auto-approval was paused (refunds.services.pauses).",
)


def auto_decision_rate_pct(*, hours: int = 24) -> float:
    """Percent of refunds created in the window that the policy approved on its own."""
    since = timezone.now() - timedelta(hours=hours)
    totals = Refund.objects.filter(created_at__gte=since).aggregate(
        total=Count("id"), auto=Count("id", filter=Q(policy_outcome=PolicyOutcome.AUTO_APPROVE))
    )
    if not totals["total"]:
        return 0.0
    return round(100.0 * totals["auto"] / totals["total"], 2)


def database_gauges() -> Iterator[GaugeMetricFamily]:
    gauge = GaugeMetricFamily(
        "refund_auto_decision_rate_pct", "Share of refunds of the last 24 h decided by policy without a person."
    )
    gauge.add_metric([], auto_decision_rate_pct())
    yield gauge
