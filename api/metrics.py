"""Prometheus metrics of the API (SPEC §10); the scrape itself is `core.metrics`."""

from __future__ import annotations

from prometheus_client import Counter

RATE_LIMIT_FAIL_OPEN_TOTAL = Counter(
    "api_rate_limit_fail_open_total",
    "API requests let through unchecked because the rate limiter's cache (Redis) did not answer.",
    ["bucket"],
)
