"""The circuit breaker on a real Redis: sliding window, minimum volume, reset on open, half-open trials, fail-open.

Each test uses a breaker name of its own (the state lives under that name in
this session's cache namespace) and a clock it moves by hand, so nothing here
waits on real time.
"""

from __future__ import annotations

import itertools
import math
import threading
import uuid

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from core.metrics import scrape
from providers.base import PROVIDER_WIDE, REQUEST_SPECIFIC, ProviderUnavailable
from providers.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from providers.metrics import BREAKER_CACHE_ERRORS_TOTAL
from tests.support.live import free_port

T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make(_services):
    """Breakers of one fresh name sharing one hand-moved clock: several instances are several workers."""
    name = f"t{uuid.uuid4().hex[:12]}"
    clock = Clock()

    def build(*, own_name: str | None = None, **options) -> CircuitBreaker:
        defaults = {"window": 10, "min_calls": 4, "failure_rate": 0.5, "cooldown": 5, "half_open_calls": 3}
        return CircuitBreaker(own_name or name, clock=clock, **{**defaults, **options})

    build.clock = clock  # type: ignore[attr-defined]
    return build


def provider_down() -> ProviderUnavailable:
    return ProviderUnavailable("connection refused", code="network", scope=PROVIDER_WIDE)


def request_failed() -> ProviderUnavailable:
    return ProviderUnavailable("api_error", code="api_error", http_status=500, scope=REQUEST_SPECIFIC)


def open_it(make) -> CircuitBreaker:
    breaker = make()
    for _ in range(breaker.min_calls):
        breaker.record_failure(provider_down())
    assert breaker.state() == OPEN
    return breaker


# --- closed: the window ------------------------------------------------------------------------------


def test_below_the_minimum_volume_even_only_failures_do_not_open(make):
    breaker = make(min_calls=4)
    for _ in range(3):
        breaker.record_failure(provider_down())
        make.clock.now += 0.5
    assert breaker.state() == CLOSED

    breaker.record_failure(provider_down())

    assert breaker.stats().state == OPEN and breaker.stats().opens == 1


def test_a_failure_rate_under_the_threshold_never_opens_at_steady_load(make):
    # 15 calls a second for a minute, one in ten failing for lack of an answer: far above the volume, under the rate.
    breaker = make(window=10, min_calls=10, failure_rate=0.5)
    for i in range(15 * 60):
        if i % 10 == 0:
            breaker.record_failure(provider_down())
        else:
            breaker.record_success()
        make.clock.now += 1 / 15
    stats = breaker.stats()
    assert (stats.state, stats.opens) == (CLOSED, 0)
    assert stats.window_calls >= 140 and stats.window_failures >= 14


def test_old_outcomes_slide_out_of_the_window(make):
    breaker = make(window=10, min_calls=4)
    for _ in range(3):
        breaker.record_failure(provider_down())
    make.clock.now += 10  # those three are now outside the last ten seconds

    breaker.record_failure(provider_down())

    assert breaker.state() == CLOSED
    assert (breaker.stats().window_calls, breaker.stats().window_failures) == (1, 1)


def test_request_specific_failures_never_open_it_whatever_their_number(make):
    breaker = make(min_calls=2, failure_rate=0.1)
    for _ in range(200):
        breaker.record_failure(request_failed())
        make.clock.now += 0.05
    stats = breaker.stats()
    assert (stats.state, stats.opens, stats.window_failures) == (CLOSED, 0, 0)
    assert stats.window_calls > 0  # counted as the provider answering


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(
        st.tuples(st.floats(min_value=0, max_value=3, allow_nan=False), st.sampled_from(["ok", "down", "request"])),
        max_size=40,
    ),
    window=st.integers(min_value=1, max_value=6),
    min_calls=st.integers(min_value=1, max_value=6),
    rate=st.sampled_from([0.25, 0.5, 0.75, 1.0]),
)
def test_it_opens_exactly_when_the_window_holds_enough_calls_at_the_failure_rate(make, events, window, min_calls, rate):
    """Against a reference model: per-second buckets, the last `window` of them, emptied on open."""
    make.clock.now = T0 + next(_epochs) * 10_000
    breaker = make(own_name=uuid.uuid4().hex, window=window, min_calls=min_calls, failure_rate=rate, cooldown=10**6)
    buckets: dict[int, list[int]] = {}
    opens = 0
    for dt, outcome in events:
        make.clock.now += dt
        sec = math.floor(make.clock.now)
        failed = outcome == "down"
        calls_failures = buckets.setdefault(sec, [0, 0])
        calls_failures[0] += 1
        calls_failures[1] += failed
        if failed:
            breaker.record_failure(provider_down())
        elif outcome == "request":
            breaker.record_failure(request_failed())
        else:
            breaker.record_success()
        in_window = [buckets.get(s, [0, 0]) for s in range(sec - window + 1, sec + 1)]
        calls, failures = sum(c for c, _ in in_window), sum(f for _, f in in_window)
        should_open = failed and calls >= min_calls and failures / calls >= rate
        stats = breaker.stats()
        if should_open:
            opens += 1
            assert (stats.state, stats.opens) == (OPEN, opens)
            assert (stats.window_calls, stats.window_failures) == (0, 0)  # reset on open
            return  # what follows is the half-open state's business
        assert stats.state == CLOSED
        assert (stats.window_calls, stats.window_failures) == (calls, failures)


_epochs = itertools.count(1)


# --- open and half-open --------------------------------------------------------------------------------


def test_open_refuses_calls_until_the_cooldown_has_passed(make):
    breaker = open_it(make)
    assert breaker.allow() is False
    assert breaker.open_until() == pytest.approx(make.clock.now + 5)

    make.clock.now += 5

    assert breaker.state() == HALF_OPEN
    assert breaker.allow() is True and breaker.holds_trial


def test_opening_empties_the_window_so_old_failures_do_not_reopen_it(make):
    breaker = open_it(make)
    assert (breaker.stats().window_calls, breaker.stats().window_failures) == (0, 0)
    make.clock.now += 5
    trials = [make() for _ in range(3)]
    for trial in trials:
        assert trial.allow()
    for trial in trials:
        trial.record_success()
    assert breaker.state() == CLOSED

    assert breaker.stats().window_failures == 0  # the third trial's success, late, counts as a call of the new window

    breaker.record_failure(provider_down())  # had the four that opened it been kept: five of six, open again

    assert (breaker.state(), breaker.stats().opens, breaker.stats().window_failures) == (CLOSED, 1, 1)


def test_half_open_gives_exactly_n_permits_to_workers_racing_for_them(make):
    open_it(make)
    make.clock.now += 5
    workers = [make(half_open_calls=3) for _ in range(24)]
    start = threading.Barrier(len(workers))
    answers: list[bool] = []
    lock = threading.Lock()

    def ask(breaker: CircuitBreaker) -> None:
        start.wait()
        allowed = breaker.allow()
        with lock:
            answers.append(allowed)

    threads = [threading.Thread(target=ask, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [False] * 21 + [True] * 3
    assert sum(w.holds_trial for w in workers) == 3


def test_trials_close_it_once_their_failures_can_no_longer_reach_the_rate(make):
    open_it(make)
    make.clock.now += 5
    trials = [make(half_open_calls=5) for _ in range(5)]
    assert all(t.allow() for t in trials)

    trials[0].record_failure(provider_down())
    trials[1].record_failure(request_failed())  # the provider answered: one good trial
    trials[2].record_failure(provider_down())
    assert trials[0].state() == HALF_OPEN  # 2 down, 1 up: undecided
    trials[3].record_success()
    assert trials[0].state() == HALF_OPEN
    trials[4].record_success()  # 3 of 5 up: 2 / 5 < 50 %, whatever else happens

    assert (trials[0].state(), trials[0].stats().opens) == (CLOSED, 1)


def test_trials_reopen_it_once_their_failures_reach_the_rate(make):
    open_it(make)
    make.clock.now += 5
    trials = [make(half_open_calls=5) for _ in range(5)]
    assert all(t.allow() for t in trials)
    trials[0].record_success()
    trials[1].record_failure(provider_down())
    trials[2].record_failure(provider_down())
    assert trials[0].state() == HALF_OPEN

    trials[3].record_failure(provider_down())  # 3 of 5 down

    stats = trials[0].stats()
    assert (stats.state, stats.opens) == (OPEN, 2)
    assert stats.open_until == pytest.approx(make.clock.now + 5)
    trials[4].record_success()  # a straggler of the decided round changes nothing
    assert trials[0].stats().opens == 2 and trials[0].state() == OPEN


def test_a_legitimately_failing_message_as_the_only_trial_does_not_reopen_it(make):
    open_it(make)
    make.clock.now += 5
    trial = make(half_open_calls=1)
    assert trial.allow()

    trial.record_failure(request_failed())

    assert (trial.state(), trial.stats().opens) == (CLOSED, 1)


def test_a_round_whose_trials_never_report_is_replaced_after_the_trial_timeout(make, settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 1
    open_it(make)
    make.clock.now += 5
    lost = [make(half_open_calls=2) for _ in range(2)]
    assert all(t.allow() for t in lost)  # their workers die mid-call: no outcome ever comes
    assert make(half_open_calls=2).allow() is False

    make.clock.now += lost[0].trial_timeout + 1
    fresh = [make(half_open_calls=2) for _ in range(3)]
    assert [f.allow() for f in fresh] == [True, True, False]
    lost[0].record_success()  # late, from the abandoned round: ignored
    assert fresh[0].state() == HALF_OPEN
    fresh[0].record_success()
    fresh[1].record_success()

    assert fresh[0].state() == CLOSED


def test_calls_that_were_under_way_when_it_opened_do_not_count(make):
    breaker = open_it(make)
    make().record_success()
    make().record_failure(provider_down())
    assert (breaker.stats().window_calls, breaker.stats().opens) == (0, 1)


# --- without its cache -------------------------------------------------------------------------------------


def test_with_redis_down_it_lets_every_call_through_and_counts_the_errors(make):
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    with override_settings(CACHES=down):
        breaker = make()
        before = BREAKER_CACHE_ERRORS_TOTAL.labels(provider=breaker.name)._value.get()
        for _ in range(10):
            assert breaker.allow() is True
            breaker.record_failure(provider_down())
        assert breaker.state() == CLOSED and breaker.open_until() == 0.0
        assert BREAKER_CACHE_ERRORS_TOTAL.labels(provider=breaker.name)._value.get() >= before + 20


def test_without_a_redis_cache_it_is_off(make):
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        breaker = make()
        for _ in range(10):
            breaker.record_failure(provider_down())
        assert breaker.allow() is True and breaker.state() == CLOSED


# --- metrics ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_scrape_shows_state_and_opens_of_the_shared_breaker(settings):
    settings.BREAKER_MIN_CALLS = 2
    breaker = CircuitBreaker("stripe")  # the database mark's cache cleanup starts it afresh
    breaker.record_failure(provider_down())
    breaker.record_failure(provider_down())

    text = scrape().decode()

    assert 'provider_breaker_state{provider="stripe",state="open"} 1.0' in text
    assert 'provider_breaker_state{provider="stripe",state="closed"} 0.0' in text
    assert 'provider_breaker_opens_total{provider="stripe"} 1.0' in text
    assert 'provider="manual"' not in text
