"""How a committed change hands its outbox rows to the Celery workers (issue 17): publish or relay.

Three outboxes carry work out of a transaction: provider calls
(refunds.services.outbox), customer emails (notifications.outbox) and
merchants' webhook deliveries (events.delivery). OUTBOX_HANDOFF picks how
their rows reach a worker:

* `publish` (the default) — the transaction marks its rows queued and
  publishes one task each from `transaction.on_commit`, in the process that
  made the change (a web request, a worker): a broker round trip per row, on
  the request's time.
* `relay` — the transaction only writes the rows, unmarked. An AFTER INSERT
  statement trigger on each of the three tables (operations migration 0002)
  runs `pg_notify(CHANNEL, <table>)`, which PostgreSQL delivers at COMMIT
  (never for a rollback) and sends once per transaction however many rows or
  statements. `manage.py outbox_relay` (operations.relay) LISTENs, and runs
  the existing sweeps: they mark and publish with SKIP LOCKED, so two relays
  (and beat's sweeps, which keep running as the safety net) never queue a row
  twice.

A change that makes a row due without inserting one (a retry's backoff, a
replay, an endpoint enabled again) calls `relay_wake`: the same NOTIFY, sent
by hand, so the relay reads the new due time at once instead of at its next
poll.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

PUBLISH, RELAY = "publish", "relay"
# The LISTEN/NOTIFY channel of the three outboxes' triggers and of `relay_wake`.
CHANNEL = "outbox_relay"
# The tables whose INSERTs notify (the trigger's payload is the table's name).
OUTBOX_TABLES = ("refunds_outboxmessage", "notifications_customeremail", "events_webhookdelivery")


def relay_mode() -> bool:
    """True when the relay queues the outboxes' tasks (OUTBOX_HANDOFF=relay): transactions publish nothing."""
    return settings.OUTBOX_HANDOFF == RELAY


def relay_wake(table: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Tell the relay that `table` has a row due sooner than it may think (relay mode, PostgreSQL; else nothing).

    Inside a transaction the NOTIFY waits for COMMIT (and is dropped by a
    rollback); in autocommit it goes at once. One cheap statement, for the
    paths that make a row due without an INSERT: the trigger covers inserts.
    """
    connection = connections[using]
    if not relay_mode() or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, table])
