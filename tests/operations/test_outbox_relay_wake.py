"""The relay wakes on NOTIFY and queues each committed outbox row exactly once, with two relays racing.

Two relays in threads (each its own LISTEN and database connections) with a
poll interval longer than the test: only the commits' notifications can wake
them. Creates commit one by one, so both relays are woken by most of them and
sweep at the same moment; SKIP LOCKED and the marks keep every row to one task.
"""

from __future__ import annotations

from collections import Counter

import pytest

from notifications.models import CustomerEmail
from refunds.models import OutboxMessage
from tests.operations.relay_support import publishes_recorded, relays_running
from tests.refunds.factories import make_refund
from tests.support.customer_states import customer_order
from tests.support.live import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
N = 12


def test_two_relays_woken_by_commits_queue_each_message_and_email_once(settings):
    settings.OUTBOX_HANDOFF = "relay"
    # No mark runs out during the test: a second task could only come from a double queueing.
    settings.OUTBOX_QUEUED_TTL_SECONDS = 600
    settings.EMAIL_REQUEUE_AFTER_SECONDS = 600
    with publishes_recorded() as published, relays_running(2) as relays:
        for i in range(N):
            make_refund(order=customer_order(email=f"c{i}@example.com"), amount_minor=500)
        messages = set(OutboxMessage.objects.values_list("pk", flat=True))
        emails = set(CustomerEmail.objects.values_list("pk", flat=True))
        assert len(messages) == N and len(emails) >= N

        wait_for(
            lambda: (
                set(published.ids("refunds.deliver_outbox", "message_id")) >= messages
                and set(published.ids("notifications.deliver_email", "email_id")) >= emails
            ),
            timeout=30,
            message="every message and email to be queued",
        )
    # Both relays stopped: nothing more can be published.
    assert Counter(published.ids("refunds.deliver_outbox", "message_id")) == Counter(dict.fromkeys(messages, 1))
    assert Counter(published.ids("notifications.deliver_email", "email_id")) == Counter(dict.fromkeys(emails, 1))
    assert all(relay.woken >= 1 for relay in relays), [relay.woken for relay in relays]
    assert not OutboxMessage.objects.filter(queued_until__isnull=True).exists()
