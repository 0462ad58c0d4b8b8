"""Attack: a copy of the database (a backup, a replica, a read-only analyst role) opens customers' status pages.

The status token is a bearer secret kept only sealed (Refund.status_token_sealed, Fernet with
STATUS_TOKEN_ENCRYPTION_KEY) beside a digest, and excluded from the history table, so that "a database
copy alone opens no status page" (docs/operations.md). Every event's `data` now stores the refund
document with `status_url` — the token in clear — in events_event, a table whose trigger refuses
UPDATE and DELETE: the clear token cannot even be scrubbed afterwards.
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
