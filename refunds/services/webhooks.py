"""The provider webhook inbox (SPEC §6): verified, deduplicated, applied once.

Provider-neutral: the named provider verifies the request and reads the event
(`Provider.verify_webhook`); the inbox only stores, deduplicates and applies
the normalised `ProviderEvent`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from providers.base import ProviderEvent, WebhookRejected, WebhookSignatureInvalid
from providers.registry import UnknownProvider, get_provider
from refunds.enums import WebhookStatus
from refunds.metrics import WEBHOOK_REPLAY_DEDUP_TOTAL
from refunds.models import Refund, WebhookEvent
from refunds.services.outcome import refund_apply_outcome

__all__ = ["WebhookRejected", "WebhookResult", "webhook_receive"]

logger = logging.getLogger("refunds.webhooks")


@dataclass(frozen=True)
class WebhookResult:
    status: str  # processed | ignored | unknown_refund | duplicate
    event_id: str


def webhook_receive(*, provider: str, payload: bytes, headers: Mapping[str, str]) -> WebhookResult:
    """Verify, store and apply one event of `provider` (a name of `providers.registry.PROVIDERS`).

    Raises `WebhookRejected` - answered 400, nothing stored - when the
    provider is unknown or sends no webhooks, the signature does not verify
    (logged as MSG.webhook.rejected with its reason), or the payload is not an
    event. Otherwise, side effects in one transaction: the inbox row (unique
    per provider and event id) naming the provider, and for refund events the outcome
    applied to the refund (see `refund_apply_outcome`, which never moves a
    refund backwards) with the audit event `webhook.received`. A replayed
    event id only increments its `replay_count` and the dedup metric. An event
    for a refund we do not know is kept as `unknown_refund` for
    reconciliation. If applying fails, nothing is stored and the provider
    retries.
    """
    try:
        receiver = get_provider(provider)
    except UnknownProvider:
        raise WebhookRejected(f"no provider named {provider!r}", reason="unknown_provider") from None
    try:
        event = receiver.verify_webhook(payload=payload, headers=headers)
    except WebhookSignatureInvalid as error:
        logger.warning(
            "webhook signature rejected",
            extra={"message_id": "MSG.webhook.rejected", "reason": error.reason, "provider": provider},
        )
        raise

    try:
        with transaction.atomic():
            inbox = WebhookEvent.objects.create(
                provider=provider,
                event_id=event.event_id,
                event_type=event.event_type,
                provider_refund_id=event.provider_refund_id or "",
                payload=event.payload,
                status=WebhookStatus.IGNORED,
                provider_created_at=event.created_at,
            )
            _apply(inbox, event)
    except IntegrityError:
        # The event id is unique: this event was stored before (the provider sent it again).
        WebhookEvent.objects.filter(provider=provider, event_id=event.event_id).update(
            replay_count=F("replay_count") + 1, last_replayed_at=timezone.now()
        )
        WEBHOOK_REPLAY_DEDUP_TOTAL.inc()
        logger.info("webhook replay ignored", extra={"message_id": "MSG.webhook.replayed", "event_id": event.event_id})
        return WebhookResult("duplicate", event.event_id)
    return WebhookResult(inbox.status, event.event_id)


def _apply(inbox: WebhookEvent, event: ProviderEvent) -> None:
    """Apply a refund event's outcome to its refund and record what happened on the inbox row."""
    if event.outcome is None:
        inbox.note = "not a refund event"
        inbox.save(update_fields=["note"])
        return
    refund = _find_refund(provider=inbox.provider, event=event)
    if refund is None:
        inbox.status = WebhookStatus.UNKNOWN_REFUND
        inbox.note = "no refund with this provider id or metadata refund_id"
        inbox.save(update_fields=["status", "note"])
        logger.warning(
            "webhook for unknown refund",
            extra={"message_id": "MSG.webhook.unknown_refund", "provider_refund_id": inbox.provider_refund_id},
        )
        return
    outcome = event.outcome
    refund, applied = refund_apply_outcome(refund_id=refund.pk, outcome=outcome, source="webhook")
    inbox.refund = refund
    inbox.status = WebhookStatus.PROCESSED if applied else WebhookStatus.IGNORED
    inbox.note = f"{outcome.status} -> refund {refund.state}" + ("" if applied else " (no change: late or repeated)")
    inbox.save(update_fields=["refund", "status", "note"])
    audit_record(
        actor=Actor.system("webhook"),
        action=AuditAction.WEBHOOK_RECEIVED,
        refund=refund,
        note=f"{inbox.event_type} {inbox.event_id}: {inbox.note}",
    )


def _find_refund(*, provider: str, event: ProviderEvent) -> Refund | None:
    """Our refund the event is about, among the refunds of payments held by `provider`."""
    refunds = Refund.objects.filter(payment__provider=provider)
    refund = None
    if event.provider_refund_id:
        refund = refunds.filter(provider_refund_id=event.provider_refund_id).first()
    if refund is None and event.refund_public_id:
        # The webhook can beat our own record of the provider id (e.g. after a timeout).
        refund = refunds.filter(public_id=event.refund_public_id).first()
    return refund
