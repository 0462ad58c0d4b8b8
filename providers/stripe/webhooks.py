"""Stripe webhook events: the `Stripe-Signature` header and the event envelope (SPEC §6).

A Stripe event is `{"id": "evt_…", "type": "refund.updated", "created": <unix>,
"data": {"object": {...}}}`; it is about a refund when `data.object.object` is
"refund", and it tells a void when it is `payment_intent.canceled` (the
authorization's hold released, by us or by anyone with the account). The
inbox never sees this shape: `verify_webhook` and `parse_event` turn it into a `ProviderEvent`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from core import jsonsafe
from providers.base import (
    EVENT_ID_MAX_LENGTH,
    EVENT_TYPE_MAX_LENGTH,
    PROVIDER_REFUND_ID_MAX_LENGTH,
    ProviderEvent,
    WebhookRejected,
    WebhookSignatureInvalid,
    header_value,
)
from providers.stripe.normalise import normalise_refund
from providers.stripe.signature import DEFAULT_TOLERANCE_SECONDS, SignatureError, verify_signature

SIGNATURE_HEADER = "Stripe-Signature"
# The one payment event we act on (issue 15): an authorization canceled, its hold released.
INTENT_CANCELED = "payment_intent.canceled"
# Stripe's own limits: metadata values are strings of at most 500 characters.
METADATA_VALUE_MAX_LENGTH = 500
STATUS_MAX_LENGTH = 30
AMOUNT_MAX = 2**63 - 1
_CURRENCY = re.compile(r"[A-Za-z]{3}")


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
    `WebhookRejected` (verified, but not a Stripe event: no JSON, nested too
    deep or holding NUL, or an envelope whose fields are not what Stripe
    sends - see `check_envelope`).
    """
    try:
        verify_signature(payload, header_value(headers, SIGNATURE_HEADER), secrets, tolerance_seconds)
    except SignatureError as error:
        raise WebhookSignatureInvalid(error.reason) from None
    try:
        event = jsonsafe.loads(payload)
    except jsonsafe.JSONNotValid:
        raise _not_an_event() from None
    except jsonsafe.JSONInputError as error:
        raise WebhookRejected(f"payload is not a provider event: {error}", reason="not_an_event") from None
    if not isinstance(event, dict) or "id" not in event or "type" not in event:
        raise _not_an_event()
    check_envelope(event)
    return parse_event(event)


def check_envelope(event: dict[str, Any]) -> None:
    """Refuse a fresh event whose fields are not of the types and sizes Stripe sends.

    A signature proves who sent the body, not that it fits: a 150-character id
    or a metadata that is a string must be a 400, not a failed insert. Stored
    events are read back leniently by `parse_event`; this is for new ones only.
    """
    _text(event.get("id"), "id", EVENT_ID_MAX_LENGTH, required=True)
    _text(event.get("type"), "type", EVENT_TYPE_MAX_LENGTH, required=True)
    created = event.get("created")
    if created is not None and not _is_int(created, 0, AMOUNT_MAX):
        raise _malformed("created is not a unix time")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if isinstance(obj, dict) and obj.get("object") == "payment_intent" and event.get("type") == INTENT_CANCELED:
        _text(obj.get("id"), "payment intent id", PROVIDER_REFUND_ID_MAX_LENGTH, required=True)
        _text(obj.get("status"), "payment intent status", STATUS_MAX_LENGTH)
        return
    if not isinstance(obj, dict) or obj.get("object") != "refund":
        return
    _text(obj.get("id"), "refund id", PROVIDER_REFUND_ID_MAX_LENGTH, required=True)
    _text(obj.get("status"), "refund status", STATUS_MAX_LENGTH)
    _text(obj.get("failure_reason"), "failure reason", STATUS_MAX_LENGTH * 2)
    amount = obj.get("amount")
    if amount is not None and not _is_int(amount, 0, AMOUNT_MAX):
        raise _malformed("refund amount is not a whole number of minor units")
    currency = obj.get("currency")
    if currency is not None and not (isinstance(currency, str) and _CURRENCY.fullmatch(currency)):
        raise _malformed("refund currency is not a three-letter code")
    metadata = obj.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise _malformed("refund metadata is not an object")
        for key, value in metadata.items():
            _text(value, f"metadata {key[:40]!r}", METADATA_VALUE_MAX_LENGTH)


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
    # Only a canceled intent's own event says the hold is released (its status is read, not trusted alone).
    voided = (
        payload.get("type") == INTENT_CANCELED
        and obj.get("object") == "payment_intent"
        and obj.get("status") == "canceled"
    )
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
        voided_payment_id=(str(obj.get("id") or "") or None) if voided else None,
    )


def _not_an_event() -> WebhookRejected:
    return WebhookRejected("payload is not a provider event", reason="not_an_event")


def _malformed(what: str) -> WebhookRejected:
    return WebhookRejected(f"malformed event: {what}", reason="malformed")


def _text(value: Any, name: str, max_length: int, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value):
        raise _malformed(f"{name} is not a string" if value else f"{name} is missing")
    if len(value) > max_length:
        raise _malformed(f"{name} is longer than {max_length} characters")


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _from_unix(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
