"""Prometheus metrics of the provider layer (SPEC §10); the scrape itself is `core.metrics`.

The breakers' state lives in Redis, shared by every worker, so it is read at
scrape time (`providers.breaker.breaker_gauges`): every process reports the
same numbers, and a web process reports what the Celery workers did.
"""

from __future__ import annotations

from prometheus_client import Counter

BREAKER_CACHE_ERRORS_TOTAL = Counter(
    "provider_breaker_cache_errors",
    "Circuit breaker look-ups that failed because the cache (Redis) did not answer; the call was let through.",
    ["provider"],
)
