"""The fixed-window counter of `api.throttling`: one round trip to Redis per request, the same counts."""

from __future__ import annotations

from django.core.cache import caches
from django.test import override_settings

from api.throttling import WINDOW_SECONDS, _PerKeyThrottle


def test_the_redis_counter_counts_and_expires_after_its_window():
    backend = caches["default"]
    backend.delete("ratelimit:test:1:1")

    assert [_PerKeyThrottle._count("ratelimit:test:1:1") for _ in range(3)] == [1, 2, 3]
    client = backend._cache.get_client(backend.make_and_validate_key("ratelimit:test:1:1"), write=True)
    ttl = client.ttl(backend.make_and_validate_key("ratelimit:test:1:1"))
    assert WINDOW_SECONDS < ttl <= WINDOW_SECONDS + 5
    # What the credit-miss limit reads through the cache API is the same number.
    assert backend.get("ratelimit:test:1:1") == 3


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_the_demos_memory_cache_counts_the_same():
    caches["default"].clear()
    assert [_PerKeyThrottle._count("ratelimit:test:2:1") for _ in range(3)] == [1, 2, 3]
