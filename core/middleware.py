from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.cache import patch_cache_control
from django.views.defaults import bad_request, page_not_found

from core.actor import Actor, reset_current_actor, set_current_actor
from core.correlation import clean_correlation_id, reset_correlation_id, set_correlation_id
from core.databases import primary_pinned, replica_configured
from core.errors import (
    ERR_AUTHN_REQUIRED,
    ERR_BODY_TOO_LARGE,
    ERR_INTERNAL,
    ERR_METHOD_NOT_ALLOWED,
    ERR_NOT_FOUND,
    ERR_RATE_LIMITED,
    ERR_URI_TOO_LONG,
    ERR_VALIDATION,
    error_body,
)
from core.health import wants_json

# A body declared over the limit is still read (and dropped) up to this many bytes before the 413 is
# sent: a client that writes its whole body before reading (most HTTP libraries) would otherwise meet
# a connection reset (the server closing with unread data) instead of the answer. Beyond it, reading
# costs more than the courtesy is worth: the 413 goes out at once and such a client may see a reset.
DRAIN_MAX_BYTES = 16 * 1024 * 1024
_DRAIN_CHUNK = 64 * 1024


class ReadYourWritesMiddleware:
    """After a write of one's own, read one's pages from the primary for a while (core.databases).

    A request that may write (not GET/HEAD/OPTIONS) and succeeded (below 400) sets a cookie
    saying until when; requests carrying it read the primary instead of the replica. The cookie
    decides nothing but which copy a screen reads: forged, it costs the primary a few reads. Without
    DATABASE_REPLICA_URL the middleware does nothing.
    """

    COOKIE = "rd_primary_until"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_configured():
            return self.get_response(request)
        now = time.time()
        try:
            pinned = float(request.COOKIES.get(self.COOKIE, "0")) > now
        except ValueError:
            pinned = False
        with primary_pinned(pinned):
            response = self.get_response(request)
        if request.method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 400:
            seconds = settings.REPLICA_PIN_SECONDS
            response.set_cookie(
                self.COOKIE,
                f"{now + seconds:.0f}",
                max_age=int(seconds),
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response


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


# The code an error answer of this status gets when something answered it in another shape.
_CODE_FOR_STATUS = {
    400: ERR_VALIDATION,
    401: ERR_AUTHN_REQUIRED,
    404: ERR_NOT_FOUND,
    405: ERR_METHOD_NOT_ALLOWED,
    413: ERR_BODY_TOO_LARGE,
    414: ERR_URI_TOO_LONG,
    429: ERR_RATE_LIMITED,
    500: ERR_INTERNAL,
}


class ErrorJsonMiddleware:
    """Under /v1/ and /webhooks/, an error answer that is not JSON becomes the error JSON of its status.

    The views and handlers there answer the error JSON themselves; this is
    the net under what they do not control: Django's method decorators
    (`require_POST` answers an empty 405), its 400 page for a request it
    refuses, or a third-party view. The status and headers (`Allow`,
    `Retry-After`) are kept. Right inside CorrelationIdMiddleware, so the body
    carries the request's correlation id.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        code = _CODE_FOR_STATUS.get(response.status_code)
        if (
            code is None
            or not wants_json(request)
            or response.get("Content-Type", "").startswith("application/json")
            or getattr(response, "streaming", False)
        ):
            return response
        _, body = error_body(code)
        replacement = JsonResponse(body, status=response.status_code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement


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
    if wants_json(request):
        status, body = error_body(code)
        return JsonResponse(body, status=status)
    return page(request, exception)


class RequestBodyLimitMiddleware:
    """Answer 413 ERR.VALIDATION.body.too_large under /v1/ and /webhooks/ for a body over DATA_UPLOAD_MAX_MEMORY_SIZE.

    Decided from Content-Length before any view runs, so nothing is parsed or
    written. (A chunked body has no length: Django's own check raises
    RequestDataTooBig when it is read, and `core.health.handler400` answers
    the same 413.) The body is drained up to DRAIN_MAX_BYTES first. (No
    `Connection: close` from here: it is hop-by-hop, the server's to set, and
    gunicorn's sync workers close after every answer anyway.)
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None or not wants_json(request):
            return self.get_response(request)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared <= limit or declared <= _view_body_limit(request):
            return self.get_response(request)
        if declared <= DRAIN_MAX_BYTES:
            _drain(request, declared)
        return body_too_large_response()


def _view_body_limit(request: HttpRequest) -> int:
    """A larger body limit the request's view declares (`max_body_bytes()`: an upload), else 0.

    Asked only of a body over DATA_UPLOAD_MAX_MEMORY_SIZE, so the path is
    resolved for those alone. The view then bounds what it reads itself
    (`api.parsers.EvidenceMultiPartParser`).
    """
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return 0
    own = getattr(getattr(match.func, "view_class", match.func), "max_body_bytes", None)
    return int(own()) if callable(own) else 0


def body_too_large_response() -> JsonResponse:
    status, body = error_body(ERR_BODY_TOO_LARGE, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return JsonResponse(body, status=status)


def _drain(request: HttpRequest, length: int) -> None:
    """Read and drop the body; a client that stops sending (or hangs up) ends it early."""
    stream = request.META.get("wsgi.input")
    if stream is None:
        return
    remaining = length
    try:
        while remaining > 0:
            chunk = stream.read(min(_DRAIN_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
    except OSError:
        return


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
