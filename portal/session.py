"""What the browser session holds in the portal: the codes it asked for, and access to one order.

A session sees an order only after proving the address (a code or a signed
link), only that one order, and only for PORTAL_ACCESS_MINUTES. Proving it
rotates the session key (`cycle_key`): a session id planted in the browser
beforehand (fixation) does not carry the access.
"""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.http import HttpRequest

from refunds.models import Order

PENDING = "portal_pending"
ACCESS = "portal_access"
LANGUAGE = "portal_language"


def pending_start(request: HttpRequest, *, ids: list[int], nonce: str, ttl_seconds: float) -> None:
    # The same record whether or not an order matched (ids of codes or of a decoy): nothing in the session tells.
    # Wrong guesses are counted on those rows, never here (portal.views.code says why).
    request.session[PENDING] = {"ids": ids, "nonce": nonce, "expires": time.time() + ttl_seconds}


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def pending(request: HttpRequest) -> dict | None:
    value = request.session.get(PENDING)
    return value if isinstance(value, dict) and "nonce" in value else None


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING, None)


def grant(request: HttpRequest, order: Order) -> None:
    """Give this browser (under a new session key) access to `order`, and to nothing else."""
    request.session.cycle_key()
    request.session.pop(PENDING, None)
    request.session[ACCESS] = {
        "order": order.pk,
        "until": time.time() + int(getattr(settings, "PORTAL_ACCESS_MINUTES", 30)) * 60,
    }


def granted_order(request: HttpRequest) -> Order | None:
    """The one order this session may see, while its access lasts; None otherwise."""
    access = request.session.get(ACCESS)
    if not isinstance(access, dict) or float(access.get("until", 0)) < time.time():
        return None
    return Order.objects.select_related("customer", "merchant", "payment").filter(pk=access.get("order")).first()


def revoke(request: HttpRequest) -> None:
    request.session.pop(ACCESS, None)
