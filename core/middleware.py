from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.correlation import clean_correlation_id, reset_correlation_id, set_correlation_id


class CorrelationIdMiddleware:
    """Take `X-Correlation-Id` from the caller (or mint one) and echo it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = clean_correlation_id(request.headers.get("X-Correlation-Id"))
        request.correlation_id = correlation_id
        token = set_correlation_id(correlation_id)
        try:
            response = self.get_response(request)
        finally:
            reset_correlation_id(token)
        response["X-Correlation-Id"] = correlation_id
        return response
