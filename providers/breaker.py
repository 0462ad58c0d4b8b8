"""A circuit breaker per provider, shared by every worker through Redis.

It answers one question for the outbox: is the provider as a whole down, so
that calling it now would only fail and burn the message's attempts? It
works the way resilience libraries' time-based breakers do (resilience4j's
TIME_BASED sliding window, `minimumNumberOfCalls`,
`permittedNumberOfCallsInHalfOpenState`):

Closed: every call's outcome is counted in a bucket of its second; the last
  `BREAKER_WINDOW_SECONDS` buckets are the window. The breaker opens when the
  window holds at least `BREAKER_MIN_CALLS` calls and the share of failed ones
  reaches `BREAKER_FAILURE_RATE`. Opening empties the window, so what is
  judged after the next close is new.
Open: no calls for `BREAKER_COOLDOWN_SECONDS`; messages wait without burning
  attempts.
Half-open: `BREAKER_HALF_OPEN_CALLS` trial calls get a permit (atomically,
  whichever workers ask first); the others keep waiting. The trials decide
  together, as soon as the outcome is certain: the breaker closes once the
  failures among them can no longer reach the rate, and opens again once they
  have. A round whose trials never all report (a worker killed mid-call) is
  replaced by a new one after `trial_timeout`.

What counts as a failure is the provider being unreachable: a
`ProviderUnavailable` of scope PROVIDER_WIDE (providers/base.py). A
request-specific one (a 500 for one idempotency key, a key in use) is the
provider answering, and counts as a call that went through: a message that
legitimately fails is retried on its own backoff and never stops delivery for
everyone, nor reopens the breaker as a half-open trial.

Each call is one Redis round trip (a Lua script, atomic across workers) to
ask, one to record. Redis being down or not configured must not stop
delivery: the breaker then lets every call through (fails open), logged and
counted in `provider_breaker_cache_errors_total`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from providers.base import REQUEST_SPECIFIC, ProviderUnavailable
from providers.metrics import BREAKER_CACHE_ERRORS_TOTAL

logger = logging.getLogger("providers")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

# KEYS[1]: the state hash. ARGV: now, half-open calls, trial timeout.
# Returns {allowed 0/1, trial round (0: not a trial), open_until or "0"}.
_ALLOW_LUA = """
local s = redis.call('HMGET', KEYS[1], 'open_until', 'round', 'issued', 'round_started')
if not s[1] then return {1, 0, '0'} end
local now = tonumber(ARGV[1])
if now < tonumber(s[1]) then return {0, 0, s[1]} end
local round = tonumber(s[2]) or 0
local issued = tonumber(s[3]) or 0
if issued > 0 and now - (tonumber(s[4]) or now) > tonumber(ARGV[3]) then
  round = redis.call('HINCRBY', KEYS[1], 'round', 1)
  redis.call('HSET', KEYS[1], 'issued', 0, 'ok', 0, 'failed', 0)
  issued = 0
end
if issued >= tonumber(ARGV[2]) then return {0, 0, s[1]} end
redis.call('HINCRBY', KEYS[1], 'issued', 1)
if issued == 0 then redis.call('HSET', KEYS[1], 'round_started', ARGV[1]) end
return {1, round, s[1]}
"""

# KEYS[1]: the state hash, KEYS[2]: the prefix of the per-second bucket keys.
# ARGV: now, failed 0/1, trial round (0: none), window s, min calls, failure rate, cooldown s, half-open calls.
# Returns {what happened, calls in the window, failures in the window}.
_RECORD_LUA = """
local state, prefix = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local failed = ARGV[2] == '1'
local trial = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local rate = tonumber(ARGV[6])
local sec = math.floor(now)
local function clear_window()
  for i = sec - window, sec + 2 do redis.call('DEL', prefix .. string.format('%d', i)) end
end
local function open()
  redis.call('HSET', state, 'open_until', now + tonumber(ARGV[7]), 'issued', 0, 'ok', 0, 'failed', 0)
  redis.call('HDEL', state, 'round_started')
  redis.call('HINCRBY', state, 'round', 1)
  redis.call('HINCRBY', state, 'opens', 1)
  clear_window()
end
local s = redis.call('HMGET', state, 'open_until', 'round')
if s[1] then
  if trial == 0 or trial ~= tonumber(s[2]) then return {'ignored', 0, 0} end
  local permits = tonumber(ARGV[8])
  local n = redis.call('HINCRBY', state, failed and 'failed' or 'ok', 1)
  if failed and n / permits >= rate then
    open()
    return {'reopened', permits, n}
  end
  if not failed and (permits - n) / permits < rate then
    redis.call('HDEL', state, 'open_until', 'issued', 'ok', 'failed', 'round_started')
    clear_window()
    return {'closed', permits, permits - n}
  end
  return {'trial', 0, 0}
end
local bucket = prefix .. string.format('%d', sec)
redis.call('HINCRBY', bucket, 'c', 1)
if failed then redis.call('HINCRBY', bucket, 'f', 1) end
redis.call('EXPIRE', bucket, window + 5)
if not failed then return {'counted', 0, 0} end
local calls, failures = 0, 0
for i = sec - window + 1, sec do
  local v = redis.call('HMGET', prefix .. string.format('%d', i), 'c', 'f')
  calls = calls + (tonumber(v[1]) or 0)
  failures = failures + (tonumber(v[2]) or 0)
end
if calls >= tonumber(ARGV[5]) and failures / calls >= rate then
  open()
  return {'opened', calls, failures}
end
return {'counted', calls, failures}
"""


class _Script:
    """A Lua script run by its digest, sent whole only when Redis does not know it yet (after a restart)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1

    def __call__(self, client: redis.Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return client.eval(self.source, len(keys), *keys, *args)


_ALLOW = _Script(_ALLOW_LUA)
_RECORD = _Script(_RECORD_LUA)

# Fail-open warnings: at most one per this many seconds per process (every call would log one otherwise).
_WARN_EVERY_SECONDS = 30.0
_last_warning: dict[str, float] = {}


@dataclass(frozen=True)
class BreakerStats:
    """What the shared state says now (for metrics, the console and tests)."""

    state: str
    opens: int
    open_until: float
    window_calls: int
    window_failures: int


class CircuitBreaker:
    """The breaker of provider `name`; build one per delivery (it remembers whether it holds a trial permit)."""

    def __init__(
        self,
        name: str,
        *,
        window: int | None = None,
        min_calls: int | None = None,
        failure_rate: float | None = None,
        cooldown: float | None = None,
        half_open_calls: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.window = max(int(window or settings.BREAKER_WINDOW_SECONDS), 1)
        self.min_calls = max(int(min_calls or settings.BREAKER_MIN_CALLS), 1)
        self.failure_rate = float(failure_rate or settings.BREAKER_FAILURE_RATE)
        if not 0.0 < self.failure_rate <= 1.0:
            raise ValueError("the failure rate is a share in (0, 1]")
        self.cooldown = float(cooldown or settings.BREAKER_COOLDOWN_SECONDS)
        self.half_open_calls = max(int(half_open_calls or settings.BREAKER_HALF_OPEN_CALLS), 1)
        # Long enough for every trial to get its answer or its timeout; a round older than this is abandoned.
        self.trial_timeout = max(self.cooldown, 2 * settings.PROVIDER_TIMEOUT_SECONDS + 1)
        self.clock = clock
        self._trial_round = 0

    # --- asking -----------------------------------------------------------------------------------------

    def allow(self) -> bool:
        """May a call go out now? Closed: yes. Open: no. Half-open: yes for the first N askers of a round."""
        self._trial_round = 0
        result = self._run(_ALLOW, [self._key("state")], [repr(self.clock()), self.half_open_calls, self.trial_timeout])
        if result is None:
            return True  # no shared state to ask: fail open
        allowed, trial_round, _ = result
        self._trial_round = int(trial_round)
        return bool(int(allowed))

    @property
    def holds_trial(self) -> bool:
        """True between an `allow()` that gave this instance a half-open permit and the outcome recorded."""
        return self._trial_round > 0

    def open_until(self) -> float:
        """When the breaker leaves the open state (0 when closed; in the past when half-open)."""
        client = self._client()
        if client is None:
            return 0.0
        try:
            value = client.hget(self._key("state"), "open_until")
        except (redis.RedisError, OSError) as exc:
            self._cache_failed(exc)
            return 0.0
        return float(value or 0)

    def state(self) -> str:
        return self.stats().state

    def stats(self) -> BreakerStats:
        """The shared state and the window's counts; closed and empty when the cache cannot be read."""
        client = self._client()
        empty = BreakerStats(CLOSED, 0, 0.0, 0, 0)
        if client is None:
            return empty
        now = self.clock()
        sec = math.floor(now)
        try:
            pipe = client.pipeline(transaction=False)
            pipe.hmget(self._key("state"), ["open_until", "opens"])
            for i in range(sec - self.window + 1, sec + 1):
                pipe.hmget(self._bucket_prefix() + str(i), ["c", "f"])
            (open_until, opens), *buckets = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._cache_failed(exc)
            return empty
        until = float(open_until or 0)
        state = CLOSED if not until else OPEN if now < until else HALF_OPEN
        calls = sum(int(c or 0) for c, _ in buckets)
        failures = sum(int(f or 0) for _, f in buckets)
        return BreakerStats(state, int(opens or 0), until, calls, failures)

    # --- telling ----------------------------------------------------------------------------------------

    def record_success(self) -> None:
        """The provider answered (a refund, or a refusal about this refund)."""
        self._record(failed=False)

    def record_failure(self, error: ProviderUnavailable | None = None) -> None:
        """A call got no usable answer. A request-specific `error` is the provider answering: not a failure here."""
        if error is not None and error.scope == REQUEST_SPECIFIC:
            self._record(failed=False)
        else:
            self._record(failed=True)

    def _record(self, *, failed: bool) -> None:
        trial_round, self._trial_round = self._trial_round, 0
        args = [
            repr(self.clock()),
            1 if failed else 0,
            trial_round,
            self.window,
            self.min_calls,
            repr(self.failure_rate),
            repr(self.cooldown),
            self.half_open_calls,
        ]
        result = self._run(_RECORD, [self._key("state"), self._bucket_prefix()], args)
        if result is None:
            return
        what = _text(result[0])
        extra = {"provider": self.name, "calls": int(result[1]), "failures": int(result[2])}
        if what in ("opened", "reopened"):
            logger.warning(
                "circuit open",
                extra={"message_id": "MSG.provider.circuit_open", "from_state": what, **extra},
            )
        elif what == "closed":
            logger.info("circuit closed", extra={"message_id": "MSG.provider.circuit_closed", **extra})

    # --- the shared state -------------------------------------------------------------------------------

    def _key(self, part: str) -> str:
        # Through the cache's own key function: its KEY_PREFIX and VERSION apply (test stacks, deployments).
        return caches["default"].make_key(f"breaker:{self.name}:{part}")

    def _bucket_prefix(self) -> str:
        return self._key("w") + ":"

    def _client(self) -> redis.Redis | None:
        backend = caches["default"]
        if not isinstance(backend, RedisCache):
            _warn_once_in_a_while(
                "no_redis",
                "circuit breaker off: the cache is not Redis, so workers share no breaker (set REDIS_URL)",
                provider=self.name,
            )
            return None
        return backend._cache.get_client(write=True)

    def _run(self, script: _Script, keys: list[str], args: list[Any]) -> Any:
        client = self._client()
        if client is None:
            return None
        try:
            return script(client, keys, args)
        except (redis.RedisError, OSError) as exc:
            self._cache_failed(exc)
            return None

    def _cache_failed(self, exc: BaseException) -> None:
        BREAKER_CACHE_ERRORS_TOTAL.labels(provider=self.name).inc()
        _warn_once_in_a_while(
            "cache_down",
            "circuit breaker cannot reach the cache: letting provider calls through",
            provider=self.name,
            error=f"{type(exc).__name__}: {exc}"[:300],
        )


def breaker_gauges() -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    """Scrape-time metrics: `provider_breaker_state{provider,state}` (1 for the current one), `…_opens_total`."""
    from providers.registry import provider_class, provider_names

    state = GaugeMetricFamily(
        "provider_breaker_state",
        "Circuit breaker state per provider (1 for the current one).",
        labels=["provider", "state"],
    )
    opens = CounterMetricFamily(
        "provider_breaker_opens", "Times the provider's circuit breaker opened (all workers).", labels=["provider"]
    )
    for name in provider_names():
        if provider_class(name).settles_by_hand:
            continue  # no API to call, no breaker
        stats = CircuitBreaker(name).stats()
        for value in (CLOSED, OPEN, HALF_OPEN):
            state.add_metric([name, value], 1.0 if stats.state == value else 0.0)
        opens.add_metric([name], stats.opens)
    yield state
    yield opens


def _warn_once_in_a_while(kind: str, message: str, **extra: str) -> None:
    now = time.monotonic()
    if now - _last_warning.get(kind, -math.inf) < _WARN_EVERY_SECONDS:
        return
    _last_warning[kind] = now
    logger.warning(message, extra={"message_id": f"MSG.provider.circuit_{kind}", **extra})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
