"""Under load the relay takes many commits in one pass, and sweeps only the outboxes they name.

A pass per commit cost the relay 16-22 ms of CPU per refund at 20 refunds/s
(benchmarks/results/stack_load-after.json, issue 17): each pass ran the three
sweeps and the next-due query whatever had committed. Now a pass follows the
last one by OUTBOX_RELAY_MIN_PASS_SECONDS at least (an idle relay still
passes at once), and a wake by notifications sweeps the tables they name.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

from core.handoff import OUTBOX_TABLES, relay_wake
from operations.relay import OutboxRelay
from refunds.models import OutboxMessage
from tests.operations.relay_support import publishes_recorded, relays_running
from tests.refunds.factories import make_refund
from tests.support.customer_states import customer_order
from tests.support.live import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_commits_heard_within_the_minimum_interval_go_in_one_pass(settings):
    settings.OUTBOX_HANDOFF = "relay"
    settings.OUTBOX_RELAY_MIN_PASS_SECONDS = 5.0  # longer than the five creates take, even on a busy machine
    settings.OUTBOX_QUEUED_TTL_SECONDS = 600
    with publishes_recorded() as published, relays_running(1) as (relay,):
        passes = relay.passes
        for i in range(5):
            make_refund(order=customer_order(email=f"c{i}@example.com"), amount_minor=500)
        messages = set(OutboxMessage.objects.values_list("pk", flat=True))
        wait_for(
            lambda: set(published.ids("refunds.deliver_outbox", "message_id")) >= messages,
            timeout=30,
            message="the five messages to be queued",
        )
        # At most one pass at once for the first commit (if the relay had been idle for the interval),
        # then one for all that came in the interval.
        assert relay.passes - passes <= 2, relay.passes - passes


def test_a_notification_sweeps_the_outbox_it_names_only(settings):
    settings.OUTBOX_HANDOFF = "relay"
    settings.OUTBOX_RELAY_MIN_PASS_SECONDS = 0.0
    settings.OUTBOX_QUEUED_TTL_SECONDS = 600
    with publishes_recorded() as published, relays_running(1) as (relay,):
        make_refund(order=customer_order(email="c@example.com"), amount_minor=500)
        [message] = OutboxMessage.objects.all()
        wait_for(lambda: published.times("refunds.deliver_outbox", "message_id", message.pk), timeout=30,
                 message="the message to be queued")  # fmt: skip
        # Its task lost and its mark gone, with no INSERT to announce it: only a sweep of its table finds it.
        OutboxMessage.objects.filter(pk=message.pk).update(queued_until=None)

        def wake_and_pass(table: str) -> None:
            passes = relay.passes
            relay_wake(table)  # autocommit: the NOTIFY goes at once
            wait_for(lambda: relay.passes > passes, timeout=30, message=f"a pass after a wake for {table}")

        wake_and_pass("notifications_customeremail")
        assert len(published.times("refunds.deliver_outbox", "message_id", message.pk)) == 1
        wake_and_pass("refunds_outboxmessage")
        assert len(published.times("refunds.deliver_outbox", "message_id", message.pk)) == 2


def test_a_wake_without_notifications_or_past_the_poll_interval_sweeps_everything(settings):
    relay = OutboxRelay(poll_seconds=1.0, min_pass_seconds=0.0)
    try:
        relay.full_pass_due = time.monotonic() + 60
        assert relay._tables_to_sweep({"notifications_customeremail"}) == {"notifications_customeremail"}
        assert relay._tables_to_sweep(set()) is None  # a due time or the poll interval ended the wait
        assert relay._tables_to_sweep({"something_else"}) is None
        relay.full_pass_due = time.monotonic() - 1  # a full pass is due: a stream of emails must not starve it
        assert relay._tables_to_sweep({"notifications_customeremail"}) is None
        assert set(OUTBOX_TABLES) == {"refunds_outboxmessage", "notifications_customeremail", "events_webhookdelivery"}
    finally:
        if relay.listener is not None:
            relay.listener.close()
        connection.close()
