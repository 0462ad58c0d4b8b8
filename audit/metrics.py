"""Gauges of the audit trail, read from the database at scrape time (see `core.metrics`)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from audit.models import AuditPending


def database_gauges() -> Iterator[GaugeMetricFamily]:
    # The audit sealer (beat) keeps the queue short; a growing age means it stopped.
    pending = AuditPending.objects.aggregate(oldest=Min("event__occurred_at"))["oldest"]
    waiting = GaugeMetricFamily(
        "audit_unsealed_oldest_seconds",
        "Age of the oldest audit event not yet sealed into the hash chain (0 when none waits).",
    )
    waiting.add_metric([], (timezone.now() - pending).total_seconds() if pending else 0.0)
    yield waiting
