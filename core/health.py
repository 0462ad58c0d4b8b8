"""Operational endpoints: liveness, readiness, metrics, and JSON error pages for the machine audiences."""

from __future__ import annotations

import hmac
import logging

from celery import current_app
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from django.views.defaults import bad_request, page_not_found, server_error
from prometheus_client import CONTENT_TYPE_LATEST

from core.errors import ERR_BODY_TOO_LARGE, ERR_INTERNAL, ERR_NOT_FOUND, ERR_VALIDATION, error_body
from core.metrics import scrape

logger = logging.getLogger("core.health")

# Machine audiences: merchant systems (/v1/) and payment providers (/webhooks/) always get the JSON error shape.
JSON_PREFIXES = ("/v1/", "/webhooks/")


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


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def handler400(request: HttpRequest, exception=None) -> HttpResponse:
    """Django's refusals of a request (SuspiciousOperation, BadRequest): JSON under the machine prefixes.

    RequestDataTooBig is a body over DATA_UPLOAD_MAX_MEMORY_SIZE that had no
    Content-Length to refuse it by (core.middleware.RequestBodyLimitMiddleware
    answers the others): the same 413.
    """
    if _wants_json(request):
        if isinstance(exception, RequestDataTooBig):
            status, body = error_body(ERR_BODY_TOO_LARGE, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        else:
            status, body = error_body(ERR_VALIDATION)
        return JsonResponse(body, status=status)
    return bad_request(request, exception)


def handler404(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        status, body = error_body(ERR_NOT_FOUND)
        return JsonResponse(body, status=status)
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        status, body = error_body(ERR_INTERNAL)
        return JsonResponse(body, status=status)
    return server_error(request)
