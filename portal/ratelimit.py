"""Budgets of the request portal, counted in the shared cache (Redis): per client, per address, per order.

Fixed one-hour windows, one atomic INCR per budget, like the API's throttles.
Every budget is charged for what was *asked*, whether or not an order
matches: a budget that only ran down for real orders would tell a guesser
which ones exist.

Unlike the status page, the portal fails closed when the cache does not
answer: asking for a code sends an email to someone, and without the
budgets anyone could make us mail an address or an order's customer
without end. The customer is told to try again later (the 429 page).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from redis.exceptions import RedisError

from core.client_ip import client_ip
from portal.addresses import address_key

logger = logging.getLogger("portal")

WINDOW_SECONDS = 3600
# Per hour; each 0 disables that budget.
DEFAULTS = {
    "PORTAL_CODES_PER_ADDRESS_PER_HOUR": 5,
    "PORTAL_CODES_PER_ORDER_PER_HOUR": 5,
    "PORTAL_REQUESTS_PER_CLIENT_PER_HOUR": 30,
}


def _limit(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))


def _client(request: HttpRequest) -> str:
    """The budget's owner: an IPv4 address, or the /64 of an IPv6 one (a subscriber holds a whole /64)."""
    address = client_ip(request) or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _digest(value: str) -> str:
    # The cache never holds who asked, nor for which address or order.
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def _count(key: str) -> int:
    if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
        return 1


def _charge(budgets: list[tuple[str, str]]) -> float | None:
    """Charge each (setting, subject) budget once; seconds to wait when any is over, else None."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    over = False
    try:
        for setting, subject in budgets:
            limit = _limit(setting)
            if limit and _count(f"ratelimit:portal:{setting.lower()}:{_digest(subject)}:{window}") > limit:
                over = True
    except (RedisError, OSError) as error:
        logger.warning(
            "portal budget not checked: cache unavailable, refusing",
            extra={"message_id": "MSG.portal.rate_limit_unavailable", "error": error.__class__.__name__},
        )
        return 60.0
    return WINDOW_SECONDS - (now % WINDOW_SECONDS) if over else None


def code_request_wait(request: HttpRequest, *, email: str, order_id: str) -> float | None:
    """Asking for a code: the client's, the address's and the order id's budgets (all three are charged)."""
    return _charge(
        [
            ("PORTAL_REQUESTS_PER_CLIENT_PER_HOUR", f"client:{_client(request)}"),
            # The form the lookup uses (portal.addresses): one address, one budget, however it is spelt.
            ("PORTAL_CODES_PER_ADDRESS_PER_HOUR", f"email:{address_key(email) or email.strip().lower()}"),
            ("PORTAL_CODES_PER_ORDER_PER_HOUR", f"order:{order_id.strip().lower()}"),
        ]
    )


def client_wait(request: HttpRequest) -> float | None:
    """Any other guess (a code typed, a signed link opened): the client's budget."""
    return _charge([("PORTAL_REQUESTS_PER_CLIENT_PER_HOUR", f"client:{_client(request)}")])
