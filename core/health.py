"""Operational endpoints: liveness, readiness, metrics, and JSON error pages for the machine audiences."""

from __future__ import annotations

import contextvars
import copy
import hmac
import logging
import os
import queue
import secrets
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import redis
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from django.views.defaults import bad_request, page_not_found, server_error
from prometheus_client import CONTENT_TYPE_LATEST

from core.errors import ERR_BODY_TOO_LARGE, ERR_INTERNAL, ERR_NOT_FOUND, ERR_UNAVAILABLE, ERR_VALIDATION, error_body
from core.metrics import scrape

logger = logging.getLogger("core.health")

# Machine audiences: merchant systems (/v1/) and payment providers (/webhooks/) always get the JSON error shape.
JSON_PREFIXES = ("/v1/", "/webhooks/")
# The prefixes without their slash: no URL pattern matches them, and a client that drops the slash
# still talks to the API, so it gets the API's 404 rather than the staff's HTML page.
_JSON_ROOTS = frozenset(prefix.rstrip("/") for prefix in JSON_PREFIXES)


def wants_json(request: HttpRequest) -> bool:
    """True for a request to a machine audience's path (`JSON_PREFIXES`, or one of them without its slash)."""
    return request.path.startswith(JSON_PREFIXES) or request.path in _JSON_ROOTS


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# --- Readiness -------------------------------------------------------------------------------------------
#
# /readyz is anonymous (orchestrators probe it without credentials), so it must be cheap and must not
# be a way to load the database: an anonymous flood of probes would otherwise multiply into checks.
#
# * The database check and the details (the pauses, a database read) run on the request's own
#   connection (Django's persistent one, CONN_MAX_AGE), in one transaction with a statement timeout
#   of READINESS_TIMEOUT_SECONDS: no connection of its own per probe.
# * The cache and broker checks, and the registered ones (the breakers, in Redis), each run on a
#   long-lived thread of their own and are given READINESS_TIMEOUT_SECONDS: a dependency that hangs
#   (a paused Redis, a firewall dropping packets) is reported as "timeout" instead of holding the
#   probe. Long-lived, so each thread keeps its clients (Django's cache client is per thread, the
#   broker connection is one per process): no new Redis connection per probe. A check still running
#   from an earlier probe is not started again (reported as a timeout): hung checks never pile up.
# * The whole answer is kept per process for READINESS_CACHE_SECONDS behind a lock: a flood of
#   probes runs at most one set of checks at a time, and at most one per that many seconds.
#
# A check returns (what to show, healthy); a failure shows the exception's class only ("OperationalError"):
# the message names hosts, ports and users, which an anonymous caller has no business reading. The
# full text goes to the log (MSG.ops.readiness_check_failed).

_CACHE_PROBE_KEY = "readyz:probe"

ReadinessCheck = Callable[[], tuple[Any, bool]]
ReadinessDetail = Callable[[], Any]
PublicView = Callable[[Any], Any]

_readiness_checks: dict[str, ReadinessCheck] = {}
_readiness_details: dict[str, tuple[ReadinessDetail, PublicView | None]] = {}


def register_readiness_check(name: str, check: ReadinessCheck) -> None:
    """Add `checks[name]` to /readyz: `check()` returns (what to show, healthy); not healthy answers 503.

    For the parts the kernel may not import (the providers' circuit breakers, registered by
    operations.apps). It runs on a thread of its own, within READINESS_TIMEOUT_SECONDS: it must not
    read the database (details do). Registering a name again replaces it (app reloads).
    """
    _readiness_checks[name] = check


def register_readiness_detail(name: str, detail: ReadinessDetail, *, public: PublicView | None = None) -> None:
    """Add `name` at the top of /readyz's answer: information (pauses in force), never a reason for 503.

    `detail()` may read the database: it runs on the request's connection, under the probe's
    statement timeout. `public(value)` is what an anonymous caller sees of it (the value unchanged
    without one); the whole value needs `Authorization: Bearer <METRICS_TOKEN>` (`probe_authorized`).
    """
    _readiness_details[name] = (detail, public)


def _reason(name: str, exc: BaseException) -> str:
    """The exception's class for the answer; its text (hosts, ports, users) only in the log."""
    logger.warning(
        "readiness check failed",
        extra={
            "message_id": "MSG.ops.readiness_check_failed",
            "check": name,
            "error": f"{exc.__class__.__name__}: {exc}"[:500],
        },
    )
    return exc.__class__.__name__


def _database_and_details() -> tuple[tuple[str, bool], dict[str, Any]]:
    """The database check and every detail, on the request's own connection, in one bounded transaction.

    `ensure_connection` reuses the request's persistent connection (opening one only when there is
    none, as any request would). In a transaction of our own, `statement_timeout` (SET LOCAL) bounds
    the SELECT and the details' reads, and ends with it. A detail that fails shows its error class.
    """
    details: dict[str, Any] = {}
    timeout_ms = max(int(settings.READINESS_TIMEOUT_SECONDS * 1000), 1)
    try:
        connection.ensure_connection()
        with transaction.atomic():
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
                cursor.execute("SELECT 1")
            for name, (detail, _public) in _readiness_details.items():
                try:
                    with transaction.atomic():  # a savepoint: a failed read leaves the others their transaction
                        details[name] = detail()
                except Exception as exc:  # noqa: BLE001 - information only: say it could not be read
                    details[name] = {"error": _reason(name, exc)}
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        reason = _reason("database", exc)
        unread = {name: {"error": f"database {reason}"} for name in _readiness_details if name not in details}
        return (reason, False), {**details, **unread}
    return ("ok", True), details


def _check_cache() -> tuple[str, bool]:
    """A set and a get of a short-lived key: the cache holds the rate limits and the circuit breakers.

    The value is random, so a stale key left by another process cannot pass for a round trip.
    The Redis cache's own socket timeouts (CACHE_SOCKET_TIMEOUT) bound each call as well.
    """
    value = secrets.token_hex(8)
    cache.set(_CACHE_PROBE_KEY, value, timeout=10)
    if cache.get(_CACHE_PROBE_KEY) != value:
        return "set/get round trip lost the value", False
    return "ok", True


# The broker connection of the probe: one per process, used only by the broker check's thread.
_broker: Any = None


def _check_broker() -> tuple[str, bool]:
    """Connect once (then reuse), and ask the broker for a round trip each time (Redis: PING; RabbitMQ: basic.qos).

    A connection that failed is dropped, so the next probe connects afresh.
    """
    global _broker
    try:
        if _broker is None:
            _broker = current_app.connection_for_write()
        _broker.ensure_connection(max_retries=1, timeout=settings.READINESS_TIMEOUT_SECONDS)
        channel = _broker.default_channel
        client = getattr(channel, "client", None)
        if client is not None and hasattr(client, "ping"):
            client.ping()
        elif _broker.transport.driver_type == "amqp":
            # RabbitMQ answers basic.qos with qos-ok: a round trip that changes nothing on a channel
            # that consumes nothing (a connection the broker dropped only shows when used).
            channel.basic_qos(0, 0, False)
    except Exception:
        broker, _broker = _broker, None
        if broker is not None:
            broker.collect()  # closes its sockets without waiting on the broker
        raise
    return "ok", True


class _Box:
    """One run of a check: its value or its error, and whether it is done."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class _CheckThread:
    """A long-lived daemon thread that runs one check at a time, so its thread-local clients are reused."""

    def __init__(self, name: str) -> None:
        self.pid = os.getpid()
        self.jobs: queue.SimpleQueue[tuple[_Box, ReadinessCheck, contextvars.Context]] = queue.SimpleQueue()
        self.current: _Box | None = None
        threading.Thread(target=self._loop, name=f"readyz-{name}", daemon=True).start()

    def _loop(self) -> None:
        while True:
            box, check, context = self.jobs.get()
            try:
                close_old_connections()  # a registered check that touches the database: no stale connection
                box.value = context.run(check)
            except BaseException as exc:  # noqa: BLE001 - a check that raises is a failed check
                box.error = exc
            finally:
                box.done.set()

    def start(self, check: ReadinessCheck) -> _Box | None:
        """Queue `check`; None when the earlier run is still going (a hung dependency: not started twice)."""
        if self.current is not None and not self.current.done.is_set():
            return None
        self.current = _Box()
        # In the request's context: its correlation id in log lines, and tracing's "not this probe" with it
        # (core.telemetry), which the thread's own context would not carry.
        self.jobs.put((self.current, check, contextvars.copy_context()))
        return self.current


_check_threads: dict[str, _CheckThread] = {}


def _thread_for(name: str) -> _CheckThread:
    worker = _check_threads.get(name)
    if worker is None or worker.pid != os.getpid():  # threads do not survive a fork: start the child's own
        worker = _check_threads[name] = _CheckThread(name)
    return worker


def _run_checks() -> tuple[bool, dict[str, Any]]:
    timeout = settings.READINESS_TIMEOUT_SECONDS
    threaded: dict[str, ReadinessCheck] = {"cache": _check_cache, "broker": _check_broker, **_readiness_checks}
    deadline = time.monotonic() + timeout
    boxes = {name: _thread_for(name).start(check) for name, check in threaded.items()}
    database, details = _database_and_details()  # meanwhile, on this thread
    results: dict[str, tuple[Any, bool]] = {"database": database}
    for name, box in boxes.items():
        if box is None or not box.done.wait(max(deadline - time.monotonic(), 0)):
            results[name] = (f"timeout after {timeout:g}s", False)
        elif box.error is not None:
            results[name] = (_reason(name, box.error), False)
        else:
            results[name] = box.value
    problems = [name for name, (_shown, healthy) in results.items() if not healthy]
    answer: dict[str, Any] = {
        "status": "unavailable" if problems else "ready",
        "checks": {name: shown for name, (shown, _healthy) in results.items()},
        **details,
    }
    if problems:
        answer["problems"] = problems
        logger.warning("not ready", extra={"message_id": "MSG.ops.not_ready", "problems": problems})
    return not problems, answer


_answer_lock = threading.Lock()
_answer: tuple[float, bool, dict[str, Any]] | None = None


def readiness() -> tuple[bool, dict[str, Any]]:
    """(ready, answer) of /readyz, the whole answer (pause reasons included); at most one set of checks at a time.

    Answers younger than READINESS_CACHE_SECONDS are given again; a probe arriving while the
    checks run waits for them (at most about READINESS_TIMEOUT_SECONDS) and gets their answer.
    """
    global _answer
    with _answer_lock:
        keep = settings.READINESS_CACHE_SECONDS
        if _answer is None or keep <= 0 or time.monotonic() - _answer[0] >= keep:
            ready, answer = _run_checks()
            _answer = (time.monotonic(), ready, answer)
        _at, ready, answer = _answer
        return ready, copy.deepcopy(answer)


def readiness_reset() -> None:
    """Forget the kept answer and the probe's broker connection (tests that move the broker or the cache)."""
    global _answer, _broker
    with _answer_lock:
        _answer = None
        broker, _broker = _broker, None
        if broker is not None:
            broker.collect()


def probe_authorized(request: HttpRequest) -> bool:
    """Whether /readyz may show the whole answer (pause reasons): `Authorization: Bearer <METRICS_TOKEN>`.

    Stricter than /metrics: without a METRICS_TOKEN configured nobody gets the reasons (they are
    incident notes, for staff; the console shows them), even with DEBUG on.
    """
    token = getattr(settings, "METRICS_TOKEN", "")
    return bool(token) and _bearer_matches(request, token)


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when this process can do its work, 503 naming what it cannot reach.

    `checks`: database, cache and broker ("ok" or the error's class), then the registered ones (the
    providers' breakers: `{"stripe": "closed"}`). 503 when the database, the cache or the broker
    fails, or when every provider with an API has its breaker open; one open breaker among several
    is shown but the process still serves (the other providers' refunds, the console, webhooks).
    Registered details (`pauses`, the kill switches in force) are information, never a 503; an
    anonymous caller sees their public view (no pause reasons), the metrics token the whole.
    """
    ready, answer = readiness()
    if not probe_authorized(request):
        for name, (_detail, public) in _readiness_details.items():
            value = answer.get(name)
            if public is not None and not (isinstance(value, dict) and "error" in value):
                answer[name] = public(value)
    return JsonResponse(answer, status=200 if ready else 503)


def _bearer_matches(request: HttpRequest, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time, as bytes (compare_digest refuses non-ASCII str),
    so the answer time says nothing about how much of a guess was right."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def metrics_authorized(request: HttpRequest) -> bool:
    """With METRICS_TOKEN set in production, only `Authorization: Bearer <METRICS_TOKEN>` may scrape."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if settings.DEBUG or not token:
        return True
    return _bearer_matches(request, token)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_authorized(request):
        response = HttpResponse("metrics need the bearer token\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)


def handler400(request: HttpRequest, exception=None) -> HttpResponse:
    """Django's refusals of a request (SuspiciousOperation, BadRequest): JSON under the machine prefixes.

    RequestDataTooBig is a body over DATA_UPLOAD_MAX_MEMORY_SIZE that had no
    Content-Length to refuse it by (core.middleware.RequestBodyLimitMiddleware
    answers the others): the same 413.
    """
    if wants_json(request):
        if isinstance(exception, RequestDataTooBig):
            status, body = error_body(ERR_BODY_TOO_LARGE, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        else:
            status, body = error_body(ERR_VALIDATION)
        return JsonResponse(body, status=status)
    return bad_request(request, exception)


def handler404(request: HttpRequest, exception=None) -> HttpResponse:
    if wants_json(request):
        status, body = error_body(ERR_NOT_FOUND)
        return JsonResponse(body, status=status)
    return page_not_found(request, exception)


# What a request fails with when a service it needs is down or restarting (PostgreSQL refusing
# or dropping connections, Redis unreachable), as opposed to a bug. Django wraps psycopg's errors
# in its own; both are listed, for errors raised outside Django's wrapper.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
)
RETRY_AFTER_SECONDS = 5


def is_outage(error: BaseException | None) -> bool:
    """True if `error`, or an error it was raised from, is an infrastructure outage (`OUTAGE_ERRORS`)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OUTAGE_ERRORS):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def handler500(request: HttpRequest) -> HttpResponse:
    """The uncaught error's answer: 503 and Retry-After for an outage, 500 for anything else.

    Django calls this while handling the exception, so `sys.exc_info()` is the
    error. Machine audiences get the error JSON (ERR.UNAVAILABLE tells a client
    to send the same request again: nothing was done), people a plain page.
    """
    if is_outage(sys.exc_info()[1]):
        logger.error("request failed: service unavailable", extra={"message_id": "MSG.ops.request_unavailable"})
        if wants_json(request):
            status, body = error_body(ERR_UNAVAILABLE)
            response: HttpResponse = JsonResponse(body, status=status)
        else:
            response = HttpResponse(
                "<!doctype html><title>Briefly unavailable</title>"
                "<h1>Briefly unavailable</h1><p>Please try again in a few seconds.</p>",
                status=503,
            )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if wants_json(request):
        status, body = error_body(ERR_INTERNAL)
        return JsonResponse(body, status=status)
    return server_error(request)
