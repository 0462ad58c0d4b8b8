"""The outboxes' INSERT triggers (operations migration 0002) NOTIFY the relay at COMMIT, never for a ROLLBACK.

A listener on its own connection hears the channel. Absence is proved
without waiting out a timeout: PostgreSQL delivers notifications in commit
order, so once a marker NOTIFY committed after the transaction under test
has arrived, anything that transaction would have sent has arrived before it.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection, transaction

from core.handoff import CHANNEL, OUTBOX_TABLES
from refunds.models import OutboxMessage
from tests.events.webhook_setup import endpoint_at
from tests.refunds.factories import captured_order, make_refund
from tests.support.customer_states import customer_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listener() -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")
    yield conn
    conn.close()


def heard_until_marker(listener: psycopg.Connection, marker: str) -> list[str]:
    """Commit a marker NOTIFY from another session, then return every payload heard before it, in order."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_notify(%s, %s)", [CHANNEL, marker])
    heard: list[str] = []
    for notify in listener.notifies(timeout=30):
        if notify.payload == marker:
            return heard
        heard.append(notify.payload)
    raise AssertionError(f"the marker {marker} never arrived (heard {heard})")


def test_a_create_notifies_each_outbox_table_once_at_commit(listener, settings):
    settings.OUTBOX_HANDOFF = "relay"
    endpoint_at("https://93.184.215.14/hooks/refunds")
    with transaction.atomic():
        make_refund(order=customer_order(), amount_minor=500)
        make_refund(order=customer_order(email="john@example.com"), amount_minor=600)
        assert heard_until_marker(listener, "before-commit") == []

    heard = heard_until_marker(listener, "after-commit")

    # Two refunds, several INSERTs per table: one notification per table, deduplicated by the transaction.
    assert sorted(heard) == sorted(OUTBOX_TABLES)


def test_a_rolled_back_insert_notifies_nobody(listener):
    order = captured_order()
    with pytest.raises(RuntimeError), transaction.atomic():
        make_refund(order=order, amount_minor=500)
        assert OutboxMessage.objects.exists()
        raise RuntimeError("roll back")

    assert heard_until_marker(listener, "after-rollback") == []


def test_an_insert_of_no_rows_notifies_nobody(listener):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO refunds_outboxmessage SELECT * FROM refunds_outboxmessage WHERE false")

    assert heard_until_marker(listener, "after-empty-insert") == []
