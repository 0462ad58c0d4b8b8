"""One worker per endpoint (its lease), and a slow endpoint never holds another endpoint's deliveries."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from events import delivery as engine
from events.delivery import deliver_endpoint, deliveries_sweep
from events.enums import DeliveryStatus
from events.models import WebhookDelivery, WebhookEndpoint
from tests.events.webhook_setup import endpoint_at, make_due, pending, refund_with_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True


def _in_thread(target, results: list, *args) -> threading.Thread:
    def run() -> None:
        try:
            results.append(target(*args))
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_two_workers_on_one_endpoint_send_each_delivery_once(merchant_receiver) -> None:
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url("/a"))
    for _ in range(3):
        refund_with_events()
    expected = {d.event.public_id for d in pending(endpoint)}
    merchant_receiver.set_mode("/a", delay_seconds=30, hold=True)
    results: list[str] = []

    first = _in_thread(deliver_endpoint, results, endpoint.pk)
    merchant_receiver.wait_for_requests("/a", 1)  # the first worker holds the lease, mid-send
    second = _in_thread(deliver_endpoint, results, endpoint.pk)
    second.join(timeout=30)
    assert results == ["leased"]
    merchant_receiver.set_mode("/a")  # the rest answer at once
    merchant_receiver.release("/a")
    first.join(timeout=60)

    ids = [r["webhook_id"] for r in merchant_receiver.requests("/a")]
    assert sorted(ids) == sorted(expected) and len(ids) == len(set(ids))
    assert pending(endpoint) == []


def test_two_workers_started_together_send_each_delivery_once(merchant_receiver) -> None:
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url("/a"))
    for _ in range(3):
        refund_with_events()
    expected = sorted(d.event.public_id for d in pending(endpoint))
    start = threading.Barrier(2)
    results: list[str] = []

    def worker() -> str:
        start.wait(timeout=30)
        return deliver_endpoint(endpoint.pk)

    threads = [_in_thread(worker, results) for _ in range(2)]
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(r["webhook_id"] for r in merchant_receiver.requests("/a")) == expected
    assert "sent" in results


def test_a_slow_endpoint_does_not_hold_another_endpoints_deliveries(merchant_receiver, settings) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 30
    slow, _ = endpoint_at(merchant_receiver.endpoint_url("/slow"))
    fast, _ = endpoint_at(merchant_receiver.endpoint_url("/fast"))
    refund_with_events()
    merchant_receiver.set_mode("/slow", delay_seconds=25, hold=True)  # near the timeout, until released
    slow_results: list[str] = []
    fast_results: list[str] = []

    slow_worker = _in_thread(deliver_endpoint, slow_results, slow.pk)
    merchant_receiver.wait_for_requests("/slow", 1)  # the slow endpoint's worker waits for its answer
    fast_worker = _in_thread(deliver_endpoint, fast_results, fast.pk)
    fast_worker.join(timeout=60)

    # The fast endpoint got all its events while the slow one still has its first request unanswered.
    assert fast_results == ["sent"] and pending(fast) == []
    assert slow_worker.is_alive() and slow_results == []
    assert not WebhookDelivery.objects.filter(endpoint=slow, attempts__gt=0).exists()
    merchant_receiver.set_mode("/slow")
    merchant_receiver.release("/slow")
    slow_worker.join(timeout=60)
    assert slow_results == ["sent"] and pending(slow) == []


def test_a_dead_workers_lease_runs_out_and_another_worker_continues(merchant_receiver) -> None:
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url("/a"))
    refund_with_events()
    held = timezone.now() + timedelta(seconds=60)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(lease_expires_at=held)

    assert deliver_endpoint(endpoint.pk) == "leased"
    assert merchant_receiver.requests("/a") == []
    assert deliveries_sweep() == 0  # a live lease: nothing to queue

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert deliveries_sweep() == 1
    assert deliver_endpoint(endpoint.pk) == "sent"
    assert pending(endpoint) == []


def test_a_delivery_sent_but_not_recorded_is_sent_again_at_least_once(merchant_receiver, monkeypatch) -> None:
    """The worker dies between the receiver's answer and the record: the same webhook-id comes again."""
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url("/a"))
    endpoint.events = ["refund.created"]
    endpoint.save(update_fields=["events"])
    refund_with_events()
    record = engine.attempt_record

    def database_gone(**kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(engine, "attempt_record", database_gone)
    assert deliver_endpoint(endpoint.pk) == "error"
    monkeypatch.setattr(engine, "attempt_record", record)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    assert deliver_endpoint(endpoint.pk) == "sent"

    first, again = merchant_receiver.requests("/a")
    assert first["webhook_id"] == again["webhook_id"] and again["duplicate"]
    assert endpoint.deliveries.get().status == DeliveryStatus.DELIVERED


def test_the_sweeper_queues_due_retries_once(merchant_receiver) -> None:
    merchant_receiver.set_mode("/a", status=500)
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url("/a"))
    refund_with_events()
    deliver_endpoint(endpoint.pk)
    assert deliveries_sweep() == 0  # backing off: nothing due

    make_due(endpoint)

    assert deliveries_sweep() == 1
    assert deliveries_sweep() == 0  # marked queued: not twice
    assert all(d.queued_until is not None for d in pending(endpoint))
