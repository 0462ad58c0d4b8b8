"""Operational endpoints: liveness, readiness, metrics, and JSON error pages for the machine audiences."""

from __future__ import annotations

import hmac
import logging
import sys

import psycopg
import redis
from celery import current_app
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connection
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


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return f"database: {exc.__class__.__name__}"
    return None


def _check_broker() -> str | None:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return f"broker: {exc.__class__.__name__}"
    return None


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    problems = [p for p in (_check_database(), _check_broker()) if p]
    if problems:
        logger.warning("not ready", extra={"message_id": "MSG.ops.not_ready", "problems": problems})
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ready"})


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
