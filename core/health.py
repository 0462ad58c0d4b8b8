"""Operational endpoints: liveness, readiness, metrics, and JSON error pages for the machine audiences."""

from __future__ import annotations

import contextvars
import hmac
import logging
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
from django.db import InterfaceError, OperationalError, connection, connections
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
# Each check runs in a thread of its own and is given READINESS_TIMEOUT_SECONDS: a dependency that
# hangs (a paused Redis, a firewall dropping packets) is reported as "timeout" instead of holding the
# probe, and the checks run side by side, so the whole answer takes at most about that long.
# A check returns None when all is well, else a short reason; it never raises.

_CACHE_PROBE_KEY = "readyz:probe"

ReadinessCheck = Callable[[], tuple[Any, bool]]
ReadinessDetail = Callable[[], Any]

_readiness_checks: dict[str, ReadinessCheck] = {}
_readiness_details: dict[str, ReadinessDetail] = {}


def register_readiness_check(name: str, check: ReadinessCheck) -> None:
    """Add `checks[name]` to /readyz: `check()` returns (what to show, healthy); not healthy answers 503.

    For the parts the kernel may not import (the providers' circuit breakers, registered by
    operations.apps). Registering a name again replaces it (app reloads).
    """
    _readiness_checks[name] = check


def register_readiness_detail(name: str, detail: ReadinessDetail) -> None:
    """Add `name` at the top of /readyz's answer: information (pauses in force), never a reason for 503."""
    _readiness_details[name] = detail


def _reason(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"[:200]


def _check_database() -> tuple[str, bool]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return _reason(exc), False
    return "ok", True


def _check_cache() -> tuple[str, bool]:
    """A set and a get of a short-lived key: the cache holds the rate limits and the circuit breakers.

    The value is random, so a stale key left by another process cannot pass for a round trip.
    The Redis cache's own socket timeouts (CACHE_SOCKET_TIMEOUT) bound each call as well.
    """
    value = secrets.token_hex(8)
    try:
        cache.set(_CACHE_PROBE_KEY, value, timeout=10)
        if cache.get(_CACHE_PROBE_KEY) != value:
            return "set/get round trip lost the value", False
    except Exception as exc:  # noqa: BLE001
        return _reason(exc), False
    return "ok", True


def _check_broker() -> tuple[str, bool]:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=settings.READINESS_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001
        return _reason(exc), False
    return "ok", True


def _bounded(name: str, check: Callable[[], Any], timeout: float) -> Callable[[], tuple[bool, Any]]:
    """Start `check` in a daemon thread now; the returned function waits for it until the deadline.

    (done, value): done False means the check was still running at the deadline; the thread is
    left to finish on its own (a daemon, holding nothing the request needs).
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = check()
        except Exception as exc:  # noqa: BLE001 - a registered check that raises is a failed check
            box["error"] = exc
        finally:
            # The thread's own database connection (Django opens one per thread): closed, not leaked.
            connections.close_all()

    # In the request's context: its correlation id in log lines, and tracing's "not this probe" with it
    # (core.telemetry), which a bare thread would not see: each check's queries would be a trace of its own.
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(run,), name=f"readyz-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout

    def wait() -> tuple[bool, Any]:
        thread.join(max(deadline - time.monotonic(), 0))
        if thread.is_alive():
            return False, None
        if "error" in box:
            raise box["error"]
        return True, box["value"]

    return wait


def readiness() -> tuple[bool, dict[str, Any]]:
    """(ready, answer) of /readyz: every check run side by side, each within READINESS_TIMEOUT_SECONDS."""
    timeout = settings.READINESS_TIMEOUT_SECONDS
    checks: dict[str, ReadinessCheck] = {
        "database": _check_database,
        "cache": _check_cache,
        "broker": _check_broker,
        **_readiness_checks,
    }
    waits = {name: _bounded(name, check, timeout) for name, check in checks.items()}
    details = {name: _bounded(name, detail, timeout) for name, detail in _readiness_details.items()}
    ready, answer_checks, problems = True, {}, []
    for name, wait in waits.items():
        try:
            done, result = wait()
        except Exception as exc:  # noqa: BLE001
            done, result = True, (_reason(exc), False)
        shown, healthy = result if done else (f"timeout after {timeout:g}s", False)
        answer_checks[name] = shown
        if not healthy:
            ready = False
            problems.append(name)
    answer: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": answer_checks}
    for name, wait in details.items():
        try:
            done, value = wait()
        except Exception as exc:  # noqa: BLE001 - information only: say it could not be read
            done, value = True, {"error": _reason(exc)}
        answer[name] = value if done else {"error": f"timeout after {timeout:g}s"}
    if problems:
        answer["problems"] = problems
    return ready, answer


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when this process can do its work, 503 naming what it cannot reach.

    `checks`: database, cache and broker ("ok" or the error), then the registered ones (the
    providers' breakers: `{"stripe": "closed"}`). 503 when the database, the cache or the broker
    fails, or when every provider with an API has its breaker open; one open breaker among several
    is shown but the process still serves (the other providers' refunds, the console, webhooks).
    Registered details (`pauses`, the kill switches in force) are information, never a 503.
    """
    ready, answer = readiness()
    if not ready:
        logger.warning("not ready", extra={"message_id": "MSG.ops.not_ready", "problems": answer["problems"]})
        return JsonResponse(answer, status=503)
    return JsonResponse(answer)


def metrics_authorized(request: HttpRequest) -> bool:
    """With METRICS_TOKEN set in production, only `Authorization: Bearer <METRICS_TOKEN>` may scrape.

    Compared in constant time, as bytes (compare_digest refuses non-ASCII str),
    so the answer time says nothing about how much of a guess was right.
    """
    token = getattr(settings, "METRICS_TOKEN", "")
    if settings.DEBUG or not token:
        return True
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


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
