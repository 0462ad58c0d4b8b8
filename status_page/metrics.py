"""Prometheus metrics of the customer status page; the scrape itself is `core.metrics`."""

from __future__ import annotations

from prometheus_client import Counter

STATUS_RATE_LIMIT_FAIL_OPEN_TOTAL = Counter(
    "status_page_rate_limit_fail_open_total",
    "Status page requests served without a rate-limit check because the cache (Redis) did not answer.",
)
