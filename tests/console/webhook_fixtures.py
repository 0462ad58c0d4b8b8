"""Endpoints, events and recorded attempts for the merchant webhooks pages (the delivery engine is not tested here)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from core.actor import Actor
from events.enums import DeliveryStatus
from events.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from events.services.endpoints import endpoint_create
from refunds.models import Merchant, Refund
from tests.events.conftest import PUBLIC_URL
from tests.refunds.factories import captured_order, make_refund

SETUP = Actor.system("setup")


def an_endpoint(merchant: Merchant, *, url: str = PUBLIC_URL, events=("refund.*",)) -> WebhookEndpoint:
    return endpoint_create(merchant=merchant, url=url, events=list(events), description="ERP", actor=SETUP)[0]


def a_refund_with_events(merchant: Merchant | None = None) -> Refund:
    """A refund the policy approves at once: refund.created and refund.approved, delivered to every endpoint."""
    order = captured_order(**({"order__merchant": merchant} if merchant else {}))
    return make_refund(order=order, amount_minor=1000)


def record_attempt(
    delivery: WebhookDelivery,
    *,
    status_code: int | None,
    at: datetime | None = None,
    error: str = "",
    excerpt: str = "",
    latency_ms: int | None = 42,
) -> WebhookAttempt:
    """One attempt as the delivery engine records it, and the delivery's state after it."""
    at = at or timezone.now()
    succeeded = status_code is not None and 200 <= status_code < 300
    delivery.attempts += 1
    if succeeded:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, at
    else:
        delivery.last_error = error or f"HTTP {status_code}"
        delivery.next_attempt_at = at + timedelta(minutes=5)
    delivery.save()
    return WebhookAttempt.objects.create(
        delivery=delivery,
        endpoint=delivery.endpoint,
        number=delivery.attempts,
        started_at=at,
        status_code=status_code,
        latency_ms=latency_ms,
        response_excerpt=excerpt,
        error=error,
        succeeded=succeeded,
    )


def delivery_of(event: Event, endpoint: WebhookEndpoint) -> WebhookDelivery:
    return WebhookDelivery.objects.get(event=event, endpoint=endpoint, trigger="event")
