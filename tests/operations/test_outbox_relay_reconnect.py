"""A relay whose LISTEN connection is killed listens again, and queues what committed while it was deaf.

The connection is ended the way a failover or an operator would
(pg_terminate_backend). A refund committed before the relay listens again
sends its NOTIFY to nobody; the poll interval is longer than the test, so
only the pass the relay makes on reconnecting can queue it.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection
from prometheus_client import REGISTRY

from operations import relay as relay_module
from refunds.models import OutboxMessage
from tests.operations.relay_support import publishes_recorded, relays_running
from tests.refunds.factories import captured_order, make_refund
from tests.support.live import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def reconnects() -> float:
    return REGISTRY.get_sample_value("outbox_relay_reconnects_total") or 0.0


def test_a_terminated_listen_connection_is_replaced_and_the_missed_commit_queued(settings, monkeypatch):
    settings.OUTBOX_HANDOFF = "relay"
    settings.OUTBOX_QUEUED_TTL_SECONDS = 600
    # Long enough for the test to commit while nobody listens.
    monkeypatch.setattr(relay_module, "RECONNECT_BASE_SECONDS", 3.0)
    before = reconnects()
    with publishes_recorded() as published, relays_running(1) as (relay,):
        listener = relay.listener
        killed = listener.backend_pid
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [killed])
        wait_for(lambda: not listener.connected, timeout=10, message="the relay to notice its lost connection")

        message = OutboxMessage.objects.get(refund=make_refund(order=captured_order(), amount_minor=500))
        committed = time.monotonic()

        wait_for(
            lambda: message.pk in published.ids("refunds.deliver_outbox", "message_id"),
            timeout=30,
            message="the message committed while the relay was deaf to be queued",
        )
        assert listener.connected and listener.backend_pid != killed
        assert relay.listening_since > committed  # queued by the pass after listening again, not by a NOTIFY
    assert reconnects() == before + 1
    assert published.ids("refunds.deliver_outbox", "message_id") == [message.pk]
