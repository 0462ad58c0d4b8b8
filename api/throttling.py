"""Fixed-window rate limits per API key, counted in the shared cache (Redis).

One atomic INCR per request; every web process sees the same counter, unlike
a per-process limiter.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

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
        if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:
                cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
                count = 1
        self._wait = WINDOW_SECONDS - (time.time() % WINDOW_SECONDS)
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class CreateThrottle(_PerKeyThrottle):
    setting_name = "RATE_LIMIT_CREATE_PER_MINUTE"
    bucket = "create"


class DecideThrottle(_PerKeyThrottle):
    setting_name = "RATE_LIMIT_DECIDE_PER_MINUTE"
    bucket = "decide"
