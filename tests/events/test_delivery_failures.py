"""A delivery that does not get a 2xx: each attempt recorded, retried with backoff, given up after the window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.delivery import deliver_endpoint
from events.enums import DeliveryStatus
from events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.events.webhook_setup import endpoint_at, make_due, pending, refund_with_events

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600


def _one_delivery(merchant_receiver, path: str = "/a") -> tuple[WebhookEndpoint, WebhookDelivery]:
    """An endpoint subscribed to refund.created only: one delivery."""
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url(path))
    endpoint.events = ["refund.created"]
    endpoint.save(update_fields=["events"])
    refund_with_events()
    (delivery,) = pending(endpoint)
    return endpoint, delivery


def test_a_500_is_recorded_and_retried_after_a_backoff(merchant_receiver) -> None:
    merchant_receiver.set_mode("/a", status=500)
    endpoint, delivery = _one_delivery(merchant_receiver)
    before = timezone.now()

    deliver_endpoint(endpoint.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.PENDING, 1, "HTTP 500")
    # Full jitter between base/2 and base (60 s) after the first failure.
    assert before + timedelta(seconds=30) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=60)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.succeeded) == (1, 500, False)
    assert attempt.latency_ms is not None
    assert '"status": 500' in attempt.response_excerpt
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    # Not due yet: a second run sends nothing.
    assert deliver_endpoint(endpoint.pk) == "idle"
    assert len(merchant_receiver.requests("/a")) == 1


def test_the_backoff_grows_with_each_failure(merchant_receiver) -> None:
    merchant_receiver.set_mode("/a", status=503)
    endpoint, delivery = _one_delivery(merchant_receiver)
    waits = []
    for _ in range(4):
        make_due(endpoint)
        deliver_endpoint(endpoint.pk)
        delivery.refresh_from_db()
        latest = WebhookAttempt.objects.filter(delivery=delivery).first()
        waits.append((delivery.next_attempt_at - latest.started_at).total_seconds())

    assert delivery.attempts == 4
    # Attempt n waits uniform(base/2, base·2^(n-1)): the fourth may wait up to 480 s, never more.
    assert all(30 <= wait <= 60 * 2**n + 5 for n, wait in enumerate(waits))


def test_a_success_after_failures_delivers_and_clears_the_failing_clock(merchant_receiver) -> None:
    merchant_receiver.set_mode("/a", status=500)
    endpoint, delivery = _one_delivery(merchant_receiver)
    deliver_endpoint(endpoint.pk)
    merchant_receiver.set_mode("/a", status=204)
    make_due(endpoint)

    deliver_endpoint(endpoint.pk)

    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.DELIVERED, 2, "")
    assert delivery.delivered_at is not None
    assert endpoint.failing_since is None
    assert [a.succeeded for a in WebhookAttempt.objects.filter(delivery=delivery).order_by("number")] == [False, True]


def test_a_timeout_is_a_failed_attempt(merchant_receiver, settings) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    merchant_receiver.set_mode("/a", delay_seconds=5, hold=True)
    endpoint, delivery = _one_delivery(merchant_receiver)

    deliver_endpoint(endpoint.pk)
    merchant_receiver.release("/a")

    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None
    assert attempt.error == "timeout after 1s"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)


def test_a_redirect_is_not_followed_and_counts_as_a_failure(merchant_receiver) -> None:
    target = merchant_receiver.endpoint_url("/target")
    merchant_receiver.set_mode("/a", status=301, redirect_to=target)
    endpoint, delivery = _one_delivery(merchant_receiver)

    deliver_endpoint(endpoint.pk)

    assert merchant_receiver.requests("/target") == []
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 301 and not attempt.succeeded
    assert attempt.error.startswith("HTTP 301: redirect not followed")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING


def test_a_receiver_that_is_down_gets_the_delivery_once_it_is_back(merchant_receiver) -> None:
    endpoint, delivery = _one_delivery(merchant_receiver)
    merchant_receiver.stop()
    try:
        deliver_endpoint(endpoint.pk)
    finally:
        merchant_receiver.start()

    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and attempt.error.startswith("connection:")
    make_due(endpoint)
    deliver_endpoint(endpoint.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [r["webhook_id"] for r in merchant_receiver.requests("/a")] == [delivery.event.public_id]


def test_a_delivery_older_than_the_retry_window_fails_at_its_next_failed_attempt(merchant_receiver, settings) -> None:
    merchant_receiver.set_mode("/a", status=500)
    endpoint, delivery = _one_delivery(merchant_receiver)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS + 1)
    )

    deliver_endpoint(endpoint.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert delivery.failed_at is not None and delivery.last_error == "HTTP 500"
    make_due(endpoint)
    assert deliver_endpoint(endpoint.pk) == "idle"  # given up: never sent again


def test_a_long_answer_is_kept_as_an_excerpt(merchant_receiver, settings) -> None:
    settings.WEBHOOK_RESPONSE_EXCERPT_CHARS = 10
    endpoint, delivery = _one_delivery(merchant_receiver)

    deliver_endpoint(endpoint.pk)

    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.response_excerpt == '{"received'
