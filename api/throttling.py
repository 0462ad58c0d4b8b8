"""Fixed-window rate limits per API key, counted in the shared cache (Redis).

One atomic INCR per request; every web process sees the same counter, unlike
a per-process limiter.

The limit protects the service from a runaway client; it is not what keeps
money right (the database is). So when the cache does not answer, the limiter
fails open: the request goes through, logged (MSG.api.rate_limit_unavailable)
and counted (`api_rate_limit_fail_open_total`), rather than a Redis outage
stopping every create that PostgreSQL and the outbox could take.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from api.metrics import RATE_LIMIT_FAIL_OPEN_TOTAL

logger = logging.getLogger("api.throttling")

WINDOW_SECONDS = 60


class _PerKeyThrottle(BaseThrottle):
    setting_name = ""
    bucket = ""

    def allow_request(self, request, view) -> bool:
        limit = getattr(settings, self.setting_name)
        if not limit or request.auth is None:
            return True
        window = int(time.time() // WINDOW_SECONDS)
        key = f"ratelimit:{self.bucket}:{request.auth.pk}:{window}"
        try:
            count = self._count(key)
        except (RedisError, OSError) as error:
            RATE_LIMIT_FAIL_OPEN_TOTAL.labels(bucket=self.bucket).inc()
            logger.warning(
                "rate limit not checked: cache unavailable",
                extra={
                    "message_id": "MSG.api.rate_limit_unavailable",
                    "bucket": self.bucket,
                    "error": f"{error.__class__.__name__}: {error}"[:300],
                },
            )
            return True
        self._wait = WINDOW_SECONDS - (time.time() % WINDOW_SECONDS)
        return count <= limit

    @staticmethod
    def _count(key: str) -> int:
        """This request's number in the window (1 for the first): one round trip to Redis.

        INCR and EXPIRE in one MULTI/EXEC. Django's cache API took three round
        trips once a window had begun (`add` refused, then `incr` asks EXISTS
        before INCR). EXPIRE on every request is harmless: the key names its
        window, so a later expiry only keeps a finished window's counter a
        little longer. Another cache (the demo's memory) counts with `add`/`incr`.
        """
        backend = caches["default"]
        if isinstance(backend, RedisCache):
            name = backend.make_and_validate_key(key)
            with backend._cache.get_client(name, write=True).pipeline(transaction=True) as pipe:
                count, _ = pipe.incr(name).expire(name, WINDOW_SECONDS + 5).execute()
            return int(count)
        if backend.add(key, 1, timeout=WINDOW_SECONDS + 5):
            return 1
        try:
            return backend.incr(key)
        except ValueError:  # the key expired between add and incr
            backend.add(key, 1, timeout=WINDOW_SECONDS + 5)
            return 1

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class CreateThrottle(_PerKeyThrottle):
    setting_name = "RATE_LIMIT_CREATE_PER_MINUTE"
    bucket = "create"


class DecideThrottle(_PerKeyThrottle):
    setting_name = "RATE_LIMIT_DECIDE_PER_MINUTE"
    bucket = "decide"


class WebhookWriteThrottle(_PerKeyThrottle):
    """Registering an endpoint, rotating its secret, redelivering an event: limited like a create.

    Each makes our workers send (or sign) more. RATE_LIMIT_CREATE_PER_MINUTE,
    in a bucket of its own: a merchant's webhook calls never use up its
    refund creates.
    """

    setting_name = "RATE_LIMIT_CREATE_PER_MINUTE"
    bucket = "webhooks"


class CreditThrottle(_PerKeyThrottle):
    """Every store credit call (lookup and redemption), in a bucket of its own (RATE_LIMIT_CREDIT_PER_MINUTE)."""

    setting_name = "RATE_LIMIT_CREDIT_PER_MINUTE"
    bucket = "credits"


class CreditMissThrottle(_PerKeyThrottle):
    """Codes that were not found, per key (RATE_LIMIT_CREDIT_MISSES_PER_MINUTE): guessing codes stops here.

    A checkout looks up codes its customers typed, so a few misses are
    normal; a key that keeps missing is enumerating. The views count a miss
    (`credit_miss_count`) after answering 404; this throttle only reads the
    count, so a key's found codes never use up its misses.
    """

    setting_name = "RATE_LIMIT_CREDIT_MISSES_PER_MINUTE"
    bucket = "credit-misses"

    def allow_request(self, request, view) -> bool:
        limit = getattr(settings, self.setting_name)
        if not limit or request.auth is None:
            return True
        try:
            count = cache.get(_miss_key(request.auth.pk)) or 0
        except (RedisError, OSError):
            RATE_LIMIT_FAIL_OPEN_TOTAL.labels(bucket=self.bucket).inc()
            return True
        self._wait = WINDOW_SECONDS - (time.time() % WINDOW_SECONDS)
        return count < limit


def _miss_key(api_key_id: int) -> str:
    return f"ratelimit:credit-misses:{api_key_id}:{int(time.time() // WINDOW_SECONDS)}"


def credit_miss_count(api_key_id: int) -> None:
    """Count a lookup of a code that does not exist (best effort, like every limit here)."""
    try:
        _PerKeyThrottle._count(_miss_key(api_key_id))
    except (RedisError, OSError):
        RATE_LIMIT_FAIL_OPEN_TOTAL.labels(bucket=CreditMissThrottle.bucket).inc()
