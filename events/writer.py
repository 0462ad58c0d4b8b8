"""Writing an event, in the transaction of the change it reports (the transactional outbox).

`event_write` is called by the receivers of the refund signals
(events.receivers) while the change's transaction is open: the event, its
sequence number and one `WebhookDelivery` per subscribed live endpoint commit
or roll back with the change. The deliveries' task is queued on commit (best
effort: the sweeper queues what a lost publish left behind).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from events.delivery import endpoints_kick
from events.enums import EndpointStatus, EventType, subscribed
from events.models import Event, WebhookDelivery, WebhookEndpoint
from refunds.models import Refund

# The customer's status link carries a bearer token kept only sealed at rest (Refund.status_token_sealed):
# a copy of the database must open no status page, and events can never be scrubbed (append-only).
NOT_STORED = frozenset({"status_url"})
# A store credit's code is spendable at the merchant's checkout: kept only sealed (credits.codes), so the
# event keeps the credit without it and `Event.as_payload` puts it back from the credit when it is read.
NOT_STORED_CREDIT = frozenset({"code"})


def stored_data(data: dict[str, Any]) -> dict[str, Any]:
    """What of an event's `data` the events table keeps: no bearer token, no spendable code."""
    kept = {key: value for key, value in data.items() if key not in NOT_STORED}
    credit = kept.get("store_credit")
    if isinstance(credit, dict):
        kept["store_credit"] = {key: value for key, value in credit.items() if key not in NOT_STORED_CREDIT}
    return kept


_SEQUENCE_NEXT = (
    "INSERT INTO events_eventsequence (merchant_id, last) VALUES (%s, 1) "
    "ON CONFLICT (merchant_id) DO UPDATE SET last = events_eventsequence.last + 1 RETURNING last"
)


def sequence_next(*, merchant_id: int) -> int:
    """The merchant's next event sequence number, its row locked until COMMIT.

    One statement (an upsert): the first event of a merchant creates its row.
    The lock is what makes sequences follow commit order: a second change of
    the same merchant waits here until the first commits or rolls back, so a
    reader never sees sequence n + 1 before n exists. It is taken last in
    every change (after the payment and refund locks), and held only for
    the rest of that transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(_SEQUENCE_NEXT, [merchant_id])
        return int(cursor.fetchone()[0])


def event_write(*, refund: Refund, event_type: EventType, data: dict[str, Any], at: datetime | None = None) -> Event:
    """Append one event about `refund` for its merchant, and a delivery for each endpoint subscribed to it.

    Must run inside the change's transaction (the caller holds the refund's lock).
    `data` is stored without what `NOT_STORED` and `NOT_STORED_CREDIT` name (`Event.as_payload` adds it back).
    """
    merchant_id = refund.order.merchant_id
    event = Event.objects.create(
        merchant_id=merchant_id,
        sequence=sequence_next(merchant_id=merchant_id),
        type=event_type,
        refund=refund,
        data=stored_data(data),
        created_at=at or timezone.now(),
    )
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(
            merchant_id=merchant_id, status=EndpointStatus.ENABLED, deleted_at__isnull=True
        ).only("pk", "events")
        if subscribed(endpoint.events, event_type)
    ]
    if endpoints:
        WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(event=event, endpoint=e, next_attempt_at=event.created_at) for e in endpoints]
        )
        endpoints_kick(endpoint_ids=[endpoint.pk for endpoint in endpoints])
    return event
