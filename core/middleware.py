from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.defaults import bad_request, page_not_found

from core.actor import Actor, reset_current_actor, set_current_actor
from core.correlation import clean_correlation_id, reset_correlation_id, set_correlation_id
from core.errors import ERR_NOT_FOUND, ERR_VALIDATION, error_body
from core.health import JSON_PREFIXES


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


class RejectNulMiddleware:
    """Answer 404 for a NUL character in the path and 400 for one in the query, before any view runs.

    PostgreSQL text cannot hold NUL: a view that looks up `/console/refunds/%00/`
    or filters by `?q=%00` fails in psycopg, a 500. No URL of ours ever carries
    NUL, so it is refused at the door: the API and webhooks with the usual
    error JSON, every other page with Django's plain 404/400 page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info or "\x00" in request.path:
            return _refused(request, ERR_NOT_FOUND, page_not_found, Http404("NUL in the path"))
        if _query_holds_nul(request):
            return _refused(request, ERR_VALIDATION, bad_request, SuspiciousOperation("NUL in the query string"))
        return self.get_response(request)


def _query_holds_nul(request: HttpRequest) -> bool:
    """True if a name or value of the query, as views will read it, holds NUL (`%2500` is a literal "%00")."""
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists())


def _refused(
    request: HttpRequest, code: str, page: Callable[[HttpRequest, Exception], HttpResponse], exception: Exception
) -> HttpResponse:
    if request.path.startswith(JSON_PREFIXES):
        status, body = error_body(code)
        return JsonResponse(body, status=status)
    return page(request, exception)


class ActorMiddleware:
    """Make the signed-in user the current actor of the request (`core.actor.current_actor`).

    After AuthenticationMiddleware. The user is looked up only if something asks.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        def resolve() -> Actor | None:
            user = getattr(request, "user", None)
            return Actor.for_user(user) if user is not None and user.is_authenticated else None

        token = set_current_actor(resolve)
        try:
            return self.get_response(request)
        finally:
            reset_current_actor(token)


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
