"""The delivery engine and the endpoint services lock an endpoint FOR NO KEY UPDATE, never FOR UPDATE.

A refund's transaction inserts deliveries for the merchant's endpoints (events.writer); the foreign key
check takes KEY SHARE on each endpoint row, which FOR UPDATE blocks and FOR NO KEY UPDATE does not. So
recording an attempt, or a merchant editing an endpoint, must never hold up a refund transition.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.delivery import attempt_record
from events.models import WebhookDelivery, WebhookEndpoint
from events.services.endpoints import _lock_endpoint
from events.transport import Sent
from tests.events.webhook_setup import endpoint_at, pending, refund_with_events

_ENDPOINT = WebhookEndpoint._meta.db_table


def _endpoint_locks(queries) -> list[str]:
    return [q["sql"] for q in queries if f'FROM "{_ENDPOINT}"' in q["sql"] and " FOR " in q["sql"]]


@pytest.mark.django_db
def test_recording_an_attempt_and_the_services_lock_the_endpoint_for_no_key_update(settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    endpoint, _ = endpoint_at("http://127.0.0.1:9/hooks")
    refund_with_events()
    delivery = pending(endpoint)[0]
    with CaptureQueriesContext(connection) as recorded:
        attempt_record(
            delivery_id=delivery.pk, sent=Sent(502, 3, "", "HTTP 502", "http_error"), started_at=timezone.now()
        )
        with transaction.atomic():
            _lock_endpoint(endpoint.pk)
    locks = _endpoint_locks(recorded.captured_queries)
    assert len(locks) == 2 and all(sql.endswith("FOR NO KEY UPDATE") for sql in locks), locks


@pytest.mark.django_db(transaction=True)
def test_a_delivery_is_inserted_while_the_endpoint_is_locked_by_its_service(settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    endpoint, _ = endpoint_at("http://127.0.0.1:9/hooks")
    refund_with_events()
    event_id = WebhookDelivery.objects.filter(endpoint=endpoint).values_list("event_id", flat=True).first()
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                _lock_endpoint(endpoint.pk)
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(30)
        with transaction.atomic(), connection.cursor() as cursor:
            # A blocked insert fails at once instead of waiting: the FK check must not conflict with the lock.
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            WebhookDelivery.objects.create(event_id=event_id, endpoint=endpoint, trigger="redeliver")
    finally:
        release.set()
        holder.join()
