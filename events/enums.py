"""The event types merchants' systems receive, and what each refund change is called among them."""

from __future__ import annotations

from django.db import models


class EventType(models.TextChoices):
    """One per thing a merchant's system reacts to (docs/webhooks.md "Event types")."""

    CREATED = "refund.created"
    APPROVED = "refund.approved"
    DENIED = "refund.denied"
    SUBMITTED = "refund.submitted"
    # The refund changed without reaching a new milestone: the provider accepted it and settles it
    # later (`provider_pending`), or staff edited it while it waits for a decision.
    UPDATED = "refund.updated"
    COMPLETED = "refund.completed"
    FAILED = "refund.failed"
    CANCELED = "refund.canceled"
    # A completed refund the provider failed afterwards: the money came back (state `failed`).
    REVERSED = "refund.reversed"


# What an endpoint may subscribe to: every refund event, or exact types.
ALL_REFUND_EVENTS = "refund.*"
SUBSCRIBABLE = (ALL_REFUND_EVENTS, *EventType.values)


def subscribed(patterns: list[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to `patterns` receives `event_type`."""
    return event_type in patterns or (ALL_REFUND_EVENTS in patterns and event_type.startswith("refund."))


class EndpointStatus(models.TextChoices):
    ENABLED = "enabled"
    # By the merchant or staff (PATCH "disabled": true), or by us after WEBHOOK_DISABLE_AFTER_SECONDS of failures.
    DISABLED = "disabled"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    # Given up after WEBHOOK_RETRY_WINDOW_SECONDS of failed attempts (or the endpoint was deleted).
    FAILED = "failed"


class DeliveryTrigger(models.TextChoices):
    # The event happened: one delivery per subscribed endpoint, written with the event.
    EVENT = "event"
    # Someone asked for it again (POST /v1/events/{id}/redeliver, or the console).
    REDELIVER = "redeliver"
