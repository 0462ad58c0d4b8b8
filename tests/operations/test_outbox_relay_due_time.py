"""The relay sleeps until the next row comes due, and a retry's backoff wakes it to read the new due time.

A retry in relay mode publishes no countdown task: the worker's transaction
moves `available_at` and sends a NOTIFY (core.handoff.relay_wake). The relay,
asleep for a message due much later (its poll interval is longer than the
test), wakes, reads the retry's due time, sleeps until then, and queues it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from operations.relay import OutboxRelay
from refunds.models import OutboxMessage
from refunds.services.outbox import Claim, _release, outbox_claim
from tests.operations.relay_support import publishes_recorded, relays_running
from tests.refunds.factories import captured_order, make_refund
from tests.support.live import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DELIVER = "refunds.deliver_outbox"


def message_of(refund) -> OutboxMessage:
    return OutboxMessage.objects.get(refund=refund)


def test_the_wait_ends_when_the_next_message_comes_due_not_at_the_poll_interval(settings):
    settings.OUTBOX_HANDOFF = "relay"
    message = message_of(make_refund(order=captured_order(), amount_minor=500))
    OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now() + timedelta(seconds=5))

    assert 4.0 < OutboxRelay(poll_seconds=60).wait_seconds() <= 5.0
    assert OutboxRelay(poll_seconds=1).wait_seconds() == 1.0


def test_a_retry_wakes_the_sleeping_relay_which_queues_it_once_its_backoff_ran_out(settings):
    settings.OUTBOX_HANDOFF = "relay"
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 2.0  # the first retry waits 1 to 2 s
    settings.OUTBOX_QUEUED_TTL_SECONDS = 600
    later = message_of(make_refund(order=captured_order(), amount_minor=500))
    OutboxMessage.objects.filter(pk=later.pk).update(available_at=timezone.now() + timedelta(seconds=300))
    retried = message_of(make_refund(order=captured_order(), amount_minor=700))

    with publishes_recorded() as published, relays_running(1) as (relay,):
        # The relay's first pass queued the message's first attempt; a worker takes it, and it must be retried.
        assert published.ids(DELIVER, "message_id") == [retried.pk]
        claim = outbox_claim(message_id=retried.pk)
        assert isinstance(claim, Claim)
        assert _release(claim, error="ProviderTimeout: no answer") == "retry"
        due = OutboxMessage.objects.get(pk=retried.pk).available_at

        wait_for(
            lambda: len(published.ids(DELIVER, "message_id")) == 2,
            timeout=30,
            message="the retry to be queued",
        )
    _first, second = published.times(DELIVER, "message_id", retried.pk)
    assert second >= due  # not before its backoff ran out
    assert relay.woken >= 1  # the retry's NOTIFY ended the 60 s wait, not the poll
    assert later.pk not in published.ids(DELIVER, "message_id")
