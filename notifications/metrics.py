"""Prometheus metrics of customer emails (docs/operations.md "Metrics"); the scrape itself is `core.metrics`.

Failed sends are counted by the worker that tried (summed over processes by
the multiprocess collector); the emails given up are read from the database
at scrape time, so every process reports the same number.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from notifications.models import CustomerEmail, EmailStatus

# kind: the email's message id (refund.approved, refund.declined …), a short fixed list.
EMAIL_FAILURES_TOTAL = Counter(
    "notification_email_failures_total",
    "Customer email sends that failed (a transient failure is retried; a refusal or the last attempt gives up).",
    ["kind"],
)


def database_gauges() -> Iterator[GaugeMetricFamily]:
    """Customer emails given up (failed for good, not replayed): each one is a customer not told."""
    failed = GaugeMetricFamily("notification_emails_failed", "Customer emails given up and not replayed.")
    failed.add_metric([], CustomerEmail.objects.filter(status=EmailStatus.FAILED).count())
    yield failed
