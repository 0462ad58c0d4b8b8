"""Signed links to the customer request portal (`/request/<signed>/`, issue 15).

A merchant puts the link in its order email (`POST /v1/orders/{order_id}/request_links`);
whoever opens it is taken to be the customer the email went to, so the link
is the credential, like the status link. It is signed with SECRET_KEY under a
salt of its own (`django.core.signing`), expires, and names the merchant, the
order and the customer's address — the address as a keyed digest only: the
link travels in URLs (history, logs), which must not carry the address. An
order whose customer address changed since the link was made no longer opens
with it.

Lives in the domain, not the portal: the API makes links and the portal reads
them, and neither audience may import the other (.importlinter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone

from core.crypto import keyed_digest
from refunds.models import Order

SALT = "refund-desk.portal.request-link.v1"
DEFAULT_MAX_AGE_DAYS = 30
_EMAIL_PURPOSE = b"refund-desk portal link email v1"


@dataclass(frozen=True)
class RequestLink:
    url: str
    expires_at: datetime


def request_link_max_age() -> timedelta:
    return timedelta(days=int(getattr(settings, "PORTAL_LINK_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS)))


def _email_digest(email: str) -> str:
    return keyed_digest((email or "").strip().lower(), purpose=_EMAIL_PURPOSE)


def request_link_make(*, order: Order) -> RequestLink:
    """A signed portal link for `order`, valid for PORTAL_LINK_MAX_AGE_DAYS from now."""
    payload = {"m": order.merchant_id, "o": order.order_id, "e": _email_digest(order.customer.email)}
    signed = signing.dumps(payload, salt=SALT, compress=True)
    return RequestLink(
        url=f"{settings.APP_BASE_URL}/request/{signed}/", expires_at=timezone.now() + request_link_max_age()
    )


def request_link_order(signed: str) -> Order | None:
    """The order a link names, or None — tampered, expired, malformed, or the order's address changed."""
    if not isinstance(signed, str) or len(signed) > 500:
        return None
    try:
        payload = signing.loads(signed, salt=SALT, max_age=request_link_max_age())
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(payload, dict) or not {"m", "o", "e"} <= payload.keys():
        return None
    order = (
        Order.objects.select_related("customer", "merchant", "payment")
        .filter(merchant_id=payload["m"], order_id=payload["o"])
        .first()
    )
    if order is None or not order.customer.email or _email_digest(order.customer.email) != payload["e"]:
        return None
    return order
