"""Prometheus metrics of the provider layer (SPEC §10); the scrape itself is `core.metrics`.

The breakers' state lives in Redis, shared by every worker, so it is read at
scrape time (`providers.breaker.breaker_gauges`): every process reports the
same numbers, and a web process reports what the Celery workers did. The
time of each call to a provider's API is observed by the process that made it
(`provider_request_seconds`, summed over processes by the multiprocess collector).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram

from providers.base import ProviderRejected

BREAKER_CACHE_ERRORS_TOTAL = Counter(
    "provider_breaker_cache_errors",
    "Circuit breaker look-ups that failed because the cache (Redis) did not answer; the call was let through.",
    ["provider"],
)
# outcome: ok (an answer we could read), rejected (the provider refused this request: ProviderRejected),
# unavailable (no usable answer: network, timeout, 5xx, unreadable — the outcome is unknown).
PROVIDER_REQUEST_SECONDS = Histogram(
    "provider_request_seconds",
    "Time of one call to a provider's API (its retries inside the call included), by operation and outcome.",
    ["provider", "operation", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30),
)

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def provider_request(provider: str, operation: str) -> Iterator[None]:
    """Time the block as one `operation` call to `provider`; its outcome is read from how it ends."""
    started, outcome = time.perf_counter(), "unavailable"
    try:
        yield
        outcome = "ok"
    except ProviderRejected:
        outcome = "rejected"
        raise
    finally:
        PROVIDER_REQUEST_SECONDS.labels(provider, operation, outcome).observe(time.perf_counter() - started)


def timed(operation: str) -> Callable[[F], F]:
    """Decorate a provider method (its instance has `name`) so each call is observed as `operation`."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def timed_method(self: Any, *args: Any, **kwargs: Any) -> Any:
            with provider_request(self.name, operation):
                return method(self, *args, **kwargs)

        return timed_method  # type: ignore[return-value]

    return decorate
