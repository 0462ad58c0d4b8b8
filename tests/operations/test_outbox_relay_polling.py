"""Without NOTIFY (SQLite, the demo) the relay polls: what commits is queued within OUTBOX_RELAY_POLL_SECONDS.

Run here on PostgreSQL with the listener taken away, which is the relay's
whole difference on SQLite (`OutboxRelay` makes no listener there).
"""

from __future__ import annotations

import threading

import pytest

from operations.relay import OutboxRelay
from refunds.models import OutboxMessage
from tests.operations.relay_support import publishes_recorded
from tests.refunds.factories import captured_order, make_refund
from tests.support.live import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_relay_without_a_listener_polls_and_queues_each_commit(settings):
    settings.OUTBOX_HANDOFF = "relay"
    settings.OUTBOX_QUEUED_TTL_SECONDS = 600
    stop = threading.Event()
    relay = OutboxRelay(poll_seconds=0.2, stop=stop)
    relay.listener = None
    thread = threading.Thread(target=relay.run, daemon=True)
    with publishes_recorded() as published:
        thread.start()
        try:
            wait_for(lambda: relay.passes >= 1, timeout=30, message="the first pass")
            message = OutboxMessage.objects.get(refund=make_refund(order=captured_order(), amount_minor=500))
            wait_for(
                lambda: message.pk in published.ids("refunds.deliver_outbox", "message_id"),
                timeout=30,
                message="the message to be queued by a poll",
            )
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not thread.is_alive()
    assert relay.woken == 0
    assert published.ids("refunds.deliver_outbox", "message_id") == [message.pk]
