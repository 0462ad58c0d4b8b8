"""Reads of events, endpoints and attempts, always scoped to one merchant (issue 14).

Another merchant's object is not found exactly like an unknown one: the
selectors filter by merchant in the query, never after it.
"""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import ERR_NOT_FOUND, DomainError
from events.enums import ALL_REFUND_EVENTS
from events.models import Event, WebhookAttempt, WebhookEndpoint
from refunds.models import Merchant


def merchant_events(
    *, merchant: Merchant, type: str | None = None, after_sequence: int | None = None
) -> QuerySet[Event]:
    """The merchant's events in sequence order (commit order), optionally of one type or `refund.*`, after one.

    Sequences are given out in commit order (events.writer.sequence_next), so
    reading on from the last sequence seen never skips an event.
    """
    events = Event.objects.filter(merchant=merchant)
    if type == ALL_REFUND_EVENTS:
        events = events.filter(type__startswith="refund.")
    elif type:
        events = events.filter(type=type)
    if after_sequence is not None:
        events = events.filter(sequence__gt=after_sequence)
    return events.order_by("sequence")


def event_get(*, public_id: str, merchant: Merchant) -> Event:
    """One event of `merchant`; another merchant's is ERR_NOT_FOUND like none at all."""
    event = Event.objects.filter(public_id=public_id, merchant=merchant).first()
    if event is None:
        raise DomainError(ERR_NOT_FOUND)
    return event


def event_find(*, public_id: str, merchant: Merchant) -> Event | None:
    """The event, or None (a list's `after` cursor: refused by the caller, as the list's own error)."""
    return Event.objects.filter(public_id=public_id, merchant=merchant).first()


def merchant_endpoints(*, merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    """The merchant's endpoints that are not deleted (enabled or disabled), oldest first."""
    return WebhookEndpoint.objects.filter(merchant=merchant, deleted_at__isnull=True).order_by("created_at", "pk")


def endpoint_get(*, public_id: str, merchant: Merchant) -> WebhookEndpoint:
    """One endpoint of `merchant`, not deleted; otherwise ERR_NOT_FOUND (another merchant's too)."""
    endpoint = merchant_endpoints(merchant=merchant).filter(public_id=public_id).first()
    if endpoint is None:
        raise DomainError(ERR_NOT_FOUND)
    return endpoint


def endpoint_attempts(*, endpoint: WebhookEndpoint, after: WebhookAttempt | None = None) -> QuerySet[WebhookAttempt]:
    """The endpoint's attempts, newest first (index endpoint, -started_at), with their delivery's event.

    `after`: continue past that attempt (same order: older ones, ties broken by id).
    """
    attempts = WebhookAttempt.objects.filter(endpoint=endpoint).select_related("delivery__event")
    if after is not None:
        attempts = attempts.filter(started_at__lte=after.started_at).exclude(
            started_at=after.started_at, pk__gte=after.pk
        )
    return attempts.order_by("-started_at", "-pk")


def attempt_find(*, public_id: str, endpoint: WebhookEndpoint) -> WebhookAttempt | None:
    """One attempt of this endpoint by its public id, or None (a cursor of another endpoint's is unknown)."""
    return WebhookAttempt.objects.filter(public_id=public_id, endpoint=endpoint).first()
