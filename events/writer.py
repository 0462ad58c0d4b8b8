"""Writing an event, in the transaction of the change it reports (the transactional outbox).

`event_write` is called by the receivers of the refund signals
(events.receivers) while the change's transaction is open: the event, its
sequence number and one `WebhookDelivery` per subscribed live endpoint commit
or roll back with the change. The deliveries' task is queued on commit (best
effort: the sweeper queues what a lost publish left behind).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from core.write_batch import Write, batching, keep_pending, pending, write
from events.delivery import endpoints_kick
from events.enums import ALL_REFUND_EVENTS, DeliveryStatus, DeliveryTrigger, EndpointStatus, EventType, subscribed
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

    On PostgreSQL one statement (`_EventsWrite`): the sequence upsert, the
    event, its deliveries (the merchant's live endpoints subscribed to its
    type, joined in the INSERT). Inside a `core.write_batch.writes_together`
    block the merchant's events of the block are that one statement together
    (the sequence taken once, +n), sent with the batch: the event's id and
    `sequence` are set then. On SQLite: the upsert, the insert, the read of
    the endpoints and the deliveries, one after the other.
    """
    merchant_id = refund.order.merchant_id
    event = Event(
        merchant_id=merchant_id,
        type=event_type,
        refund=refund,
        data=stored_data(data),
        created_at=at or timezone.now(),
    )
    if batching():
        waiting = pending(("events", merchant_id))
        if waiting is not None:
            waiting.add(event)
        else:
            waiting = _EventsWrite(merchant_id, event)
            keep_pending(("events", merchant_id), waiting)
            write(waiting.write)
        return event
    event.sequence = sequence_next(merchant_id=merchant_id)
    event.save(force_insert=True)
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
        endpoints_kick(endpoint_ids=[endpoint.pk for endpoint in endpoints], inserted=True)
    return event


# The merchant's next n sequence numbers (its row locked until COMMIT, as `sequence_next`), n events
# numbered last - n + k in the order they were written, and a delivery of each to every live endpoint of
# the merchant subscribed to its type (`events.enums.subscribed`, in SQL), in the endpoints' order.
_SEQUENCE_TAKE = (
    "INSERT INTO events_eventsequence AS s (merchant_id, last) VALUES (%s, %s)"
    " ON CONFLICT (merchant_id) DO UPDATE SET last = s.last + EXCLUDED.last RETURNING last"
)
_EVENTS_INSERT = (
    "INSERT INTO events_event (public_id, merchant_id, sequence, type, refund_id, data, created_at)"
    " SELECT v.public_id, %s, __sequence__.last - %s + v.k, v.type, v.refund_id, v.data::jsonb, v.created_at"
    " FROM __sequence__, (VALUES {rows}) AS v(k, public_id, type, refund_id, data, created_at)"
    " ORDER BY v.k RETURNING id, public_id, sequence, type, created_at"
)
_EVENT_ROW = "(%s::integer, %s::varchar, %s::varchar, %s::bigint, %s::text, %s::timestamptz)"
_DELIVERIES_INSERT = (
    "INSERT INTO events_webhookdelivery (event_id, endpoint_id, trigger, requested_by, status, attempts,"
    " next_attempt_at, queued_until, last_error, created_at, delivered_at, failed_at)"
    " SELECT ev.id, e.id, %s, '', %s, 0, ev.created_at, NULL, '', %s, NULL, NULL"
    " FROM __events__ AS ev JOIN events_webhookendpoint AS e ON e.merchant_id = %s AND e.status = %s"
    " AND e.deleted_at IS NULL AND (jsonb_exists(e.events, ev.type)"
    " OR (jsonb_exists(e.events, %s) AND starts_with(ev.type, 'refund.')))"
    " ORDER BY ev.sequence, e.created_at, e.id RETURNING event_id, endpoint_id"
)
_EVENTS_WRITTEN = (
    "SELECT ev.public_id, ev.id, ev.sequence,"
    " (SELECT coalesce(jsonb_agg(d.endpoint_id), '[]'::jsonb) FROM __deliveries__ AS d WHERE d.event_id = ev.id)"
    " AS endpoints FROM __events__ AS ev"
)


class _EventsWrite:
    """A merchant's events of one change (or batch), as one write (core.write_batch): see `event_write`."""

    def __init__(self, merchant_id: int, event: Event) -> None:
        self.merchant_id = merchant_id
        self.events: list[Event] = []
        self.write = Write([], [], self._done)
        self.add(event)

    def add(self, event: Event) -> None:
        """One more event: the write is rendered again (the batch sends it as it stands when it is sent)."""
        self.events.append(event)
        n, rows, row_params = len(self.events), [], []
        for k, one in enumerate(self.events, start=1):
            rows.append(_EVENT_ROW)
            row_params += [k, one.public_id, str(one.type), one.refund_id, json.dumps(one.data), one.created_at]
        self.write.statements[:] = [
            ("sequence", _SEQUENCE_TAKE),
            ("events", _EVENTS_INSERT.format(rows=", ".join(rows))),
            ("deliveries", _DELIVERIES_INSERT),
            ("written", _EVENTS_WRITTEN),
        ]
        self.write.params[:] = [
            *(self.merchant_id, n),
            *(self.merchant_id, n, *row_params),
            *(DeliveryTrigger.EVENT.value, DeliveryStatus.PENDING.value, timezone.now()),
            *(self.merchant_id, EndpointStatus.ENABLED.value, ALL_REFUND_EVENTS),
        ]

    def _done(self, rows: list[dict[str, Any]]) -> None:
        by_id = {row["public_id"]: row for row in rows}
        endpoint_ids: list[int] = []
        for event in self.events:
            row = by_id[event.public_id]
            event.pk, event.sequence = row["id"], row["sequence"]
            event._state.adding, event._state.db = False, connection.alias
            endpoint_ids += row["endpoints"]
        if endpoint_ids:
            endpoints_kick(endpoint_ids=endpoint_ids, inserted=True)
