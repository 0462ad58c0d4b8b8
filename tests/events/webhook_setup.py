"""What the delivery tests share: an endpoint on the test receiver and a refund whose events it is sent."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from events.enums import DeliveryStatus
from events.models import WebhookDelivery, WebhookEndpoint
from events.signing import secret_new, secret_seal
from refunds.services.merchants import merchant_default
from tests.refunds.factories import captured_order, make_refund


def endpoint_at(url: str, *, merchant=None, secret: str | None = None, **fields) -> tuple[WebhookEndpoint, str]:
    """An enabled endpoint subscribed to every refund event (rows written directly: the API is not the subject)."""
    secret = secret or secret_new()
    endpoint = WebhookEndpoint.objects.create(
        merchant=merchant or merchant_default(),
        url=url,
        events=["refund.*"],
        secret_sealed=secret_seal(secret),
        **fields,
    )
    return endpoint, secret


def refund_with_events(**order_fields):
    """A refund created for the default merchant: its events (and their deliveries) are written with it."""
    order = captured_order(**order_fields)
    return make_refund(order=order, amount_minor=1000)


def pending(endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).order_by("pk"))


def make_due(endpoint: WebhookEndpoint) -> None:
    """Time travel: every pending delivery of the endpoint is due now (its backoff is over)."""
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
