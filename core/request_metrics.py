"""`http_request_duration_seconds`: every request Django answers, timed from the first middleware to the last.

First in MIDDLEWARE, so the time includes every other middleware (sessions,
authentication, the error JSON …) and the label reads what the client got.
Labels stay few, whatever a client sends: `route` is the URL pattern's
`view_name` (`api:order-refunds`), never the path, `unmatched` when no pattern
matches; `method` is one of the HTTP methods (`other` for any other word);
`status` is the class, `2xx` … `5xx`. Answers gunicorn gives itself (a request
line too long) never reach Django and are not here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve
from prometheus_client import Histogram

HTTP_REQUEST_DURATION_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time Django took to answer a request, by route (URL pattern name), method and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
)
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(request: HttpRequest) -> str:
    """The view name of the URL pattern the request matched (or would have: a middleware answered first)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        # A middleware answered before the URL was resolved (413, a NUL in the path …): resolve it here,
        # so the refusal is counted against the route the client called.
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNMATCHED
        except Exception:  # noqa: BLE001 - a path the resolver cannot even read is no route either
            return UNMATCHED
    return match.view_name or UNMATCHED


class RequestMetricsMiddleware:
    """Observe each request's duration once its response is built."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUEST_DURATION_SECONDS.labels(
            route=route_of(request), method=method, status=f"{response.status_code // 100}xx"
        ).observe(time.perf_counter() - started)
        return response
