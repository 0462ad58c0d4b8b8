"""The provider webhook inbox (SPEC §6): verified, deduplicated, applied once."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record
from core.actor import Actor
from providers.registry import default_provider_name
from providers.stripe.client import normalise_refund
from providers.stripe.signature import SignatureError, verify_signature
from refunds.metrics import WEBHOOK_REPLAY_DEDUP_TOTAL
from refunds.models import Refund, WebhookEvent
from refunds.services.outcome import refund_apply_outcome

logger = logging.getLogger("refunds.webhooks")


class WebhookRejected(Exception):
    """Unverifiable or malformed: answered 400, nothing stored."""


@dataclass(frozen=True)
class WebhookResult:
    status: str  # processed | ignored | unknown_refund | duplicate
    event_id: str


def webhook_secrets() -> list[str]:
    # Comma-separated so a secret can be rotated without dropping events.
    return [s.strip() for s in settings.PROVIDER_WEBHOOK_SECRET.split(",") if s.strip()]


def webhook_receive(*, payload: bytes, signature_header: str) -> WebhookResult:
    """Verify, store and apply one provider event.

    Side effects, in one transaction: the inbox row (unique by event id), and
    for refund events the outcome applied to the refund (see
    `refund_apply_outcome`, which never moves a refund backwards). A replayed
    event id only increments its `replay_count` and the dedup metric. An
    event for a refund we do not know is kept as `unknown_refund` for
    reconciliation. If applying fails, nothing is stored and the provider
    retries.
    """
    try:
        verify_signature(payload, signature_header, webhook_secrets(), settings.WEBHOOK_TOLERANCE_SECONDS)
    except SignatureError as error:
        logger.warning(
            "webhook signature rejected", extra={"message_id": "MSG.webhook.rejected", "reason": error.reason}
        )
        raise WebhookRejected(f"signature: {error.reason}") from None
    try:
        event = json.loads(payload)
        event_id, event_type = str(event["id"]), str(event["type"])
        obj = event.get("data", {}).get("object", {})
    except (ValueError, KeyError, TypeError, AttributeError):
        raise WebhookRejected("payload is not a provider event") from None

    try:
        with transaction.atomic():
            inbox = WebhookEvent.objects.create(
                provider=default_provider_name(),
                event_id=event_id,
                event_type=event_type,
                provider_refund_id=str(obj.get("id") or "") if obj.get("object") == "refund" else "",
                payload=event,
                status=WebhookEvent.STATUS_IGNORED,
                provider_created_at=_from_unix(event.get("created")),
            )
            _apply(inbox, obj)
    except IntegrityError:
        WebhookEvent.objects.filter(event_id=event_id).update(
            replay_count=F("replay_count") + 1, last_replayed_at=timezone.now()
        )
        WEBHOOK_REPLAY_DEDUP_TOTAL.inc()
        logger.info("webhook replay ignored", extra={"message_id": "MSG.webhook.replayed", "event_id": event_id})
        return WebhookResult("duplicate", event_id)
    return WebhookResult(inbox.status, event_id)


def _apply(inbox: WebhookEvent, obj: dict) -> None:
    if obj.get("object") != "refund":
        inbox.note = "not a refund event"
        inbox.save(update_fields=["note"])
        return
    refund = _find_refund(obj)
    if refund is None:
        inbox.status = WebhookEvent.STATUS_UNKNOWN_REFUND
        inbox.note = "no refund with this provider id or metadata refund_id"
        inbox.save(update_fields=["status", "note"])
        logger.warning(
            "webhook for unknown refund",
            extra={"message_id": "MSG.webhook.unknown_refund", "provider_refund_id": inbox.provider_refund_id},
        )
        return
    outcome = normalise_refund(obj)
    refund, applied = refund_apply_outcome(refund_id=refund.pk, outcome=outcome, source="webhook")
    inbox.refund = refund
    inbox.status = WebhookEvent.STATUS_PROCESSED if applied else WebhookEvent.STATUS_IGNORED
    inbox.note = f"{outcome.status} -> refund {refund.state}" + ("" if applied else " (no change: late or repeated)")
    inbox.save(update_fields=["refund", "status", "note"])
    audit_record(
        actor=Actor.system("webhook"),
        action="webhook.received",
        refund=refund,
        note=f"{inbox.event_type} {inbox.event_id}: {inbox.note}",
    )


def _find_refund(obj: dict) -> Refund | None:
    provider_id = obj.get("id")
    refund = Refund.objects.filter(provider_refund_id=provider_id).first() if provider_id else None
    if refund is None:
        # The webhook can beat our own record of the provider id (e.g. after a timeout).
        public_id = (obj.get("metadata") or {}).get("refund_id")
        refund = Refund.objects.filter(public_id=public_id).first() if public_id else None
    return refund


def _from_unix(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError):
        return None
