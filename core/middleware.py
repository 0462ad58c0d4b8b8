from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

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


class SecurityHeadersMiddleware:
    """The headers Django's SecurityMiddleware does not set: Permissions-Policy, and no-store on customer data.

    `PERMISSIONS_POLICY` goes on every answer. Answers under
    `NO_STORE_PATH_PREFIXES` (staff screens, the admin, the status page: all
    show customers' names, addresses or refunds) are `Cache-Control: private,
    no-store`, so no shared cache and no browser history keeps a copy after
    the person signs out or the tab closes.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.permissions_policy: str = getattr(settings, "PERMISSIONS_POLICY", "")
        self.no_store_prefixes: tuple[str, ...] = tuple(getattr(settings, "NO_STORE_PATH_PREFIXES", ()))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.permissions_policy:
            response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        if self.no_store_prefixes and request.path_info.startswith(self.no_store_prefixes):
            patch_cache_control(response, private=True, no_store=True)
        return response
