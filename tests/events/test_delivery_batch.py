"""A run sends a bounded batch, then queues itself again when deliveries are still due."""

from __future__ import annotations

import socket

import pytest

from events import delivery as engine
from events.delivery import deliver_endpoint
from events.models import WebhookAttempt
from tests.events.webhook_setup import endpoint_at, pending, refund_with_events

pytestmark = pytest.mark.django_db


def test_a_run_stops_after_its_batch_and_queues_the_rest(merchant_receiver, settings, monkeypatch) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    monkeypatch.setattr(engine, "BATCH_MAX", 1)
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url("/a"))
    refund_with_events()
    refund_with_events()
    before = len(pending(endpoint))

    assert deliver_endpoint(endpoint.pk) == "sent"

    assert len(merchant_receiver.requests("/a")) == 1
    left = pending(endpoint)
    assert len(left) == before - 1
    assert all(d.queued_until is not None for d in left)  # its next run is queued (and marked so)


def test_a_receiver_that_keeps_failing_ends_the_run_early(merchant_receiver, settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    merchant_receiver.set_mode("/a", status=502)
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url("/a"))
    for _ in range(3):
        refund_with_events()

    assert deliver_endpoint(endpoint.pk) == "failing"

    assert len(merchant_receiver.requests("/a")) == engine.FAILURES_IN_ROW


def test_a_receiver_that_hangs_ends_the_run_after_its_first_timeout(settings) -> None:
    # Connections are taken by the kernel (backlog) and never answered: every attempt waits out the timeout.
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint, _ = endpoint_at(f"http://127.0.0.1:{silent.getsockname()[1]}/hooks")
        for _ in range(3):
            refund_with_events()
        before = len(pending(endpoint))

        assert deliver_endpoint(endpoint.pk) == "failing"

    attempts = WebhookAttempt.objects.filter(endpoint=endpoint)
    assert [a.error for a in attempts] == ["timeout after 0.5s"]  # one timeout per run holds the slot, not three
    assert len(pending(endpoint)) == before
