"""A copy of the database (a backup, a replica, a read-only analyst role) must open no customer's status page.

The status token is a bearer secret kept only sealed (Refund.status_token_sealed, Fernet with
STATUS_TOKEN_ENCRYPTION_KEY) beside a digest, and excluded from the history table, so that "a database
copy alone opens no status page" (docs/operations.md). Events store the refund document in an
append-only table, so its `status_url` is left out at rest and added back when the event is read or
sent (attack review of issue 14).
"""

from __future__ import annotations

import pytest
from django.db import connection

from tests.events.webhook_setup import refund_with_events

pytestmark = pytest.mark.django_db


def test_the_events_table_holds_no_status_token_in_clear() -> None:
    refund = refund_with_events()
    token = refund.status_token
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_event WHERE refund_id = %s", [refund.pk])
        (events,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM events_event WHERE refund_id = %s AND data::text LIKE %s",
            [refund.pk, f"%{token}%"],
        )
        (leaking,) = cursor.fetchone()
    assert events >= 1
    assert leaking == 0, f"{leaking} of {events} events of {refund.public_id} store its status token in clear"


def test_the_event_as_read_and_sent_still_carries_the_status_url() -> None:
    refund = refund_with_events()
    event = refund.events.select_related("refund").order_by("sequence").last()
    assert "status_url" not in event.data
    assert event.as_payload()["data"]["status_url"] == refund.status_url
