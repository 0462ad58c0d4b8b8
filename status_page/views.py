"""The customer's refund status page, `/r/<token>/` (SPEC §8).

Anyone holding the link may read the page, so the link is the secret: every
answer that is not the page itself is the same 404, whatever the reason
(malformed, unknown or wrong token), the page is never indexed, cached by
others or leaked through a Referer header, and requests are rate-limited per
client address. The same URL answers htmx's poll with just the status card,
or with 204 when nothing changed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_safe
from redis.exceptions import RedisError

from core.i18n import customer_language, supported_language
from status_page.metrics import STATUS_RATE_LIMIT_FAIL_OPEN_TOTAL
from status_page.presenters import StatusView, refund_by_status_token, status_view

logger = logging.getLogger("status_page")

WINDOW_SECONDS = 60
DEFAULT_RATE_LIMIT_PER_MINUTE = 60
DEFAULT_POLL_SECONDS = 15
# Scripts, styles and requests only from this origin; no inline code anywhere (STYLE.md §10).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def _protect(response: HttpResponse, language: str) -> HttpResponse:
    """Headers every answer under /r/ carries, the 404 and 429 included."""
    response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    # The URL is the credential: never send it to another site as a Referer.
    response["Referrer-Policy"] = "no-referrer"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Content-Language"] = language
    patch_cache_control(response, private=True, no_store=True)
    patch_vary_headers(response, ["HX-Request", "Accept-Language"])
    return response


def _rate_limited(request: HttpRequest) -> float | None:
    """Seconds to wait when this client address is over its budget for the minute, else None.

    A fixed window counted in the shared cache (atomic incr), like the API's
    throttles, so every web process sees one counter. The address is hashed:
    the cache never holds who asked. Polls count too — a page polls a few
    times a minute, far below the default budget.
    """
    limit = getattr(settings, "STATUS_PAGE_RATE_LIMIT_PER_MINUTE", DEFAULT_RATE_LIMIT_PER_MINUTE)
    if not limit:
        return None
    now = time.time()
    client = hashlib.sha256(_client_network(request.META.get("REMOTE_ADDR", "")).encode()).hexdigest()[:24]
    key = f"ratelimit:status:{client}:{int(now // WINDOW_SECONDS)}"
    try:
        try:
            count = cache.incr(key)  # the usual case: the window's counter exists
        except ValueError:
            # First request of the window (or a race with another process's add).
            count = 1 if cache.add(key, 1, timeout=WINDOW_SECONDS + 5) else cache.incr(key)
    except (RedisError, OSError) as error:
        # The budget guards the service, not the customer's right to see their refund (the token is
        # unguessable): with Redis down the page is served unchecked rather than answering 503.
        STATUS_RATE_LIMIT_FAIL_OPEN_TOTAL.inc()
        logger.warning(
            "status page rate limit not checked: cache unavailable",
            extra={"message_id": "MSG.status.rate_limit_unavailable", "error": error.__class__.__name__},
        )
        return None
    if count <= limit:
        return None
    return WINDOW_SECONDS - (now % WINDOW_SECONDS)


def _client_network(address: str) -> str:
    """The budget's owner: an IPv4 address, or the /64 network of an IPv6 one.

    One IPv6 subscriber usually holds a whole /64 and can use a new address
    per request, so counting single IPv6 addresses would not limit anyone.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _visitor_language(request: HttpRequest) -> str:
    """For pages shown before (or without) a refund: the switch, else the browser's language."""
    return supported_language(request.GET.get("lang")) or translation.get_language_from_request(request)


def _plain_page(request: HttpRequest, template: str, status: int) -> HttpResponse:
    language = _visitor_language(request)
    with translation.override(language):
        response = render(request, template, {"brand": _brand()}, status=status)
    return _protect(response, language)


def _brand() -> str:
    return getattr(settings, "STATUS_PAGE_BRAND", "Refund desk")


def _languages(current: str) -> list[dict[str, str | bool]]:
    return [
        {"code": code, "name": name, "href": f"?lang={code}", "current": code == current}
        for code, name in settings.LANGUAGES
    ]


def _announcement(view: StatusView, since: str) -> str:
    """What a screen reader is told after a poll: the new headline, only when it changed."""
    previous_message = since.rpartition("~")[0]
    if not since or previous_message == view.message.id:
        return ""
    return f"{view.message.title} {view.message.body}"


@require_safe
def refund_status(request: HttpRequest, token: str) -> HttpResponse:
    """The status page, or (htmx poll) the status card alone, or 204 when the card is unchanged.

    Order matters: the rate limit is checked before the token is looked up, so
    guessing costs the same budget whether or not a guess hits.
    """
    wait = _rate_limited(request)
    if wait is not None:
        response = _plain_page(request, "status_page/rate_limited.html", 429)
        response["Retry-After"] = str(int(wait) + 1)
        return response
    refund = refund_by_status_token(token)
    if refund is None:
        return _plain_page(request, "status_page/not_found.html", 404)

    language = customer_language(requested=request.GET.get("lang"), customer_locale=refund.order.customer.locale)
    with translation.override(language):
        view = status_view(refund, language=language)
        since = request.GET.get("since", "")
        context = {
            "view": view,
            "brand": _brand(),
            "languages": _languages(language),
            "poll_seconds": getattr(settings, "STATUS_PAGE_POLL_SECONDS", DEFAULT_POLL_SECONDS),
            "announce": "",
        }
        if request.htmx:
            if since == view.version:
                return _protect(HttpResponse(status=204), language)
            context["announce"] = _announcement(view, since)
            response = render(request, "status_page/page.html#status-card", context)
        else:
            response = render(request, "status_page/page.html", context)
    return _protect(response, language)
