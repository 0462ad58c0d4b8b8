"""Stripe webhook events: the `Stripe-Signature` header and the event envelope (SPEC §6).

A Stripe event is `{"id": "evt_…", "type": "refund.updated", "created": <unix>,
"data": {"object": {...}}}`; it is about a refund when `data.object.object` is
"refund". The inbox never sees this shape: `verify_webhook` and `parse_event`
turn it into a `ProviderEvent`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from providers.base import ProviderEvent, WebhookRejected, WebhookSignatureInvalid, header_value
from providers.stripe.normalise import normalise_refund
from providers.stripe.signature import DEFAULT_TOLERANCE_SECONDS, SignatureError, verify_signature

SIGNATURE_HEADER = "Stripe-Signature"


def verify_webhook(
    *,
    payload: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> ProviderEvent:
    """Verify the raw body against its `Stripe-Signature` header, then read the event.

    `secrets` are the endpoint's secrets (several while one is being rotated).
    Raises `WebhookSignatureInvalid` (bad, missing or stale signature) or
    `WebhookRejected` (verified, but not a Stripe event).
    """
    try:
        verify_signature(payload, header_value(headers, SIGNATURE_HEADER), secrets, tolerance_seconds)
    except SignatureError as error:
        raise WebhookSignatureInvalid(error.reason) from None
    try:
        event = json.loads(payload)
    except ValueError:
        raise _not_an_event() from None
    if not isinstance(event, dict) or "id" not in event or "type" not in event:
        raise _not_an_event()
    return parse_event(event)


def parse_event(payload: Any) -> ProviderEvent:
    """Read a decoded Stripe event (fresh or stored); raises `WebhookRejected` if it is none.

    Lenient with what it reads: amount, currency and status are taken from
    `data.object` whenever present, but only a refund object yields an outcome.
    """
    if not isinstance(payload, dict):
        raise _not_an_event()
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(data, dict | None) or not isinstance(obj, dict | None):
        raise _not_an_event()
    obj = obj or {}
    is_refund = obj.get("object") == "refund"
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    amount = obj.get("amount")
    return ProviderEvent(
        event_id=str(payload.get("id") or ""),
        event_type=str(payload.get("type") or ""),
        payload=payload,
        created_at=_from_unix(payload.get("created")),
        provider_refund_id=(str(obj.get("id") or "") or None) if is_refund else None,
        refund_public_id=(str(metadata.get("refund_id") or "") or None) if is_refund else None,
        outcome=normalise_refund(obj) if is_refund else None,
        amount_minor=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        currency=str(obj.get("currency") or "").upper() or None,
        provider_status=str(obj.get("status") or ""),
    )


def _not_an_event() -> WebhookRejected:
    return WebhookRejected("payload is not a provider event", reason="not_an_event")


def _from_unix(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
