"""Prometheus metrics of webhook delivery (docs/webhooks.md, docs/operations.md).

Counters and the latency histogram live in the worker that sends; the
backlog (pending deliveries, the oldest one's age) and the disabled
endpoints are read from the database at scrape time, so every process
reports the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from events.enums import DeliveryStatus, EndpointStatus
from events.models import WebhookDelivery, WebhookEndpoint

# outcome: delivered (2xx), http_error (another status), redirect (3xx, not followed), timeout,
# connection (refused, reset, TLS), refused (the URL or its address is not allowed: nothing sent),
# error (anything else that went wrong in the send: recorded as a failed attempt all the same).
WEBHOOK_ATTEMPTS_TOTAL = Counter("webhook_attempts_total", "Webhook delivery attempts, by outcome.", ["outcome"])
WEBHOOK_ATTEMPT_SECONDS = Histogram(
    "webhook_attempt_seconds",
    "Time from connecting to the end of the answer, per webhook attempt that got an answer or timed out.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30),
)


def database_gauges() -> Iterator[GaugeMetricFamily]:
    """The backlog of deliveries and the endpoints we disabled (or their merchants did)."""
    pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
    backlog = pending.aggregate(count=Count("pk"), oldest=Min("created_at"))
    gauge = GaugeMetricFamily("webhook_deliveries_pending", "Webhook deliveries not yet delivered nor given up.")
    gauge.add_metric([], backlog["count"] or 0)
    yield gauge
    oldest = backlog["oldest"]
    age = GaugeMetricFamily(
        "webhook_delivery_oldest_pending_seconds", "Age of the oldest pending webhook delivery (0 when none)."
    )
    age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
    yield age
    disabled = GaugeMetricFamily(
        "webhook_endpoints_disabled", "Webhook endpoints disabled, by reason (failing: by us).", labels=["reason"]
    )
    rows = (
        WebhookEndpoint.objects.filter(status=EndpointStatus.DISABLED, deleted_at__isnull=True)
        .values("disabled_reason")
        .annotate(n=Count("pk"))
    )
    counts = {"failing": 0, "merchant": 0, **{row["disabled_reason"] or "unknown": row["n"] for row in rows}}
    for reason, count in sorted(counts.items()):
        disabled.add_metric([reason], count)
    yield disabled
