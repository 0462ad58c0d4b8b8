"""Sending an event again, to one endpoint or to every endpoint subscribed to it (issue 14)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_NOT_FOUND, DomainError
from events.delivery import endpoints_kick
from events.enums import DeliveryTrigger, EndpointStatus, subscribed
from events.models import Event, WebhookDelivery, WebhookEndpoint


def event_redeliver(*, event: Event, actor: Actor, endpoint: WebhookEndpoint | None = None) -> list[WebhookDelivery]:
    """Queue `event` again: to `endpoint`, or to every live endpoint of its merchant subscribed to its type.

    A new delivery each time (trigger `redeliver`, `requested_by` the
    actor), beside the event's own: the receiver sees the same `webhook-id`
    again and may deduplicate on it. An explicit endpoint of another merchant
    or deleted is ERR_NOT_FOUND; disabled, or not subscribed to the event's
    type, ERR_CONFLICT_STATE; no endpoint at all subscribed, ERR_CONFLICT_STATE.
    Side effects, in one transaction: the deliveries, an `event.redelivered`
    audit event; after COMMIT a task per endpoint (events.delivery.endpoints_kick).
    """
    live = WebhookEndpoint.objects.filter(merchant_id=event.merchant_id, deleted_at__isnull=True)
    with transaction.atomic():
        if endpoint is not None:
            # Re-read under a share lock: a concurrent delete or disable either lands first (and is
            # seen here) or waits for this delivery to exist (and then fails it, events.services.endpoints).
            target = live.select_for_update(no_key=True).filter(pk=endpoint.pk).first()
            if target is None:
                raise DomainError(ERR_NOT_FOUND)
            if target.status != EndpointStatus.ENABLED:
                raise DomainError(
                    ERR_CONFLICT_STATE, "The endpoint is disabled: enable it first.", endpoint=target.public_id
                )
            if not subscribed(target.events, event.type):
                raise DomainError(
                    ERR_CONFLICT_STATE,
                    f"The endpoint is not subscribed to {event.type}: add it to its events first.",
                    endpoint=target.public_id,
                )
            targets = [target]
        else:
            candidates = live.select_for_update(no_key=True).filter(status=EndpointStatus.ENABLED).order_by("pk")
            targets = [candidate for candidate in candidates if subscribed(candidate.events, event.type)]
            if not targets:
                raise DomainError(
                    ERR_CONFLICT_STATE,
                    f"No enabled webhook endpoint is subscribed to {event.type}: there is nowhere to send it.",
                )
        now = timezone.now()
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    event=event,
                    endpoint=target,
                    trigger=DeliveryTrigger.REDELIVER,
                    requested_by=actor.label[:200],
                    next_attempt_at=now,
                    created_at=now,
                )
                for target in targets
            ]
        )
        audit_record(
            actor=actor,
            action=AuditAction.EVENT_REDELIVERED,
            refund=event.refund,
            subject=f"event {event.public_id}",
            note=f"{event.type} to {', '.join(target.public_id for target in targets)}",
        )
        endpoints_kick(endpoint_ids=[target.pk for target in targets])
    return deliveries
