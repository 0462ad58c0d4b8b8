"""A circuit breaker per provider, shared by every worker through the cache (Redis).

Closed: calls go through; consecutive transient failures are counted.
Open (after `threshold` failures): no calls until `cooldown` has passed, so an
outage is not hammered and messages wait without burning their attempts.
Half-open: after the cooldown one caller (an atomic `add` decides which) may
try; success closes the breaker, failure opens it again.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("providers")


class CircuitBreaker:
    def __init__(self, name: str, *, threshold: int | None = None, cooldown: float | None = None) -> None:
        self.name = name
        self.threshold = threshold or settings.BREAKER_FAILURE_THRESHOLD
        self.cooldown = cooldown or settings.BREAKER_COOLDOWN_SECONDS
        self._failures = f"breaker:{name}:failures"
        self._open_until = f"breaker:{name}:open_until"
        self._trial = f"breaker:{name}:trial"

    def open_until(self) -> float:
        return float(cache.get(self._open_until) or 0)

    def state(self) -> str:
        until = self.open_until()
        if not until:
            return "closed"
        return "open" if time.time() < until else "half_open"

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one caller gets a yes."""
        until = self.open_until()
        if not until:
            return True
        if time.time() < until:
            return False
        return cache.add(self._trial, 1, timeout=max(int(self.cooldown), 1))

    def record_success(self) -> None:
        # One read on the common path (closed, no failures counted); writes only when there is state to clear.
        state = cache.get_many([self._failures, self._open_until])
        if not state:
            return
        if state.get(self._open_until):
            logger.info("circuit closed", extra={"message_id": "MSG.provider.circuit_closed", "provider": self.name})
        cache.delete_many([self._failures, self._open_until, self._trial])

    def record_failure(self) -> None:
        cache.add(self._failures, 0, timeout=3600)
        try:
            failures = cache.incr(self._failures)
        except ValueError:
            failures = 1
        if failures >= self.threshold:
            cache.set(self._open_until, time.time() + self.cooldown, timeout=3600)
            cache.delete(self._trial)
            logger.warning(
                "circuit open",
                extra={"message_id": "MSG.provider.circuit_open", "provider": self.name, "failures": failures},
            )
