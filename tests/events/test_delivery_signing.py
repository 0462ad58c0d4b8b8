"""A delivery arrives at a real receiver as the event JSON, signed so `standardwebhooks` verifies it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from events.delivery import deliver_endpoint
from events.enums import DeliveryStatus
from events.models import Event, WebhookAttempt, WebhookDelivery
from events.signing import previous_secret_entry, secret_new, secret_seal
from tests.events.webhook_setup import endpoint_at, refund_with_events

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True


def _headers(request: dict) -> dict[str, str]:
    return {name.lower(): value for name, value in request["headers"].items()}


def test_every_event_arrives_once_signed_and_verifiable(merchant_receiver) -> None:
    endpoint, secret = endpoint_at(merchant_receiver.endpoint_url("/a"))
    refund = refund_with_events()
    events = list(Event.objects.filter(refund=refund).order_by("sequence"))

    assert deliver_endpoint(endpoint.pk) == "sent"

    got = merchant_receiver.requests("/a")
    assert [r["webhook_id"] for r in got] == [e.public_id for e in events]
    for request, event in zip(got, events, strict=True):
        headers = _headers(request)
        assert Webhook(secret).verify(request["body"], headers) == json.loads(json.dumps(event.as_payload()))
        assert request["body"] == json.dumps(event.as_payload(), separators=(",", ":"))
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"] == "RefundDesk-Webhooks/1"
        assert headers["webhook-id"] == event.public_id
    assert not WebhookDelivery.objects.filter(endpoint=endpoint).exclude(status=DeliveryStatus.DELIVERED).exists()
    attempt = WebhookAttempt.objects.filter(endpoint=endpoint).first()
    assert (attempt.number, attempt.status_code, attempt.succeeded, attempt.error) == (1, 200, True, "")
    assert attempt.latency_ms is not None and '"received"' in attempt.response_excerpt


def test_during_a_rotation_both_secrets_sign_and_each_alone_verifies(merchant_receiver) -> None:
    old = secret_new()
    endpoint, new = endpoint_at(
        merchant_receiver.endpoint_url("/a"), previous_secrets=[previous_secret_entry(sealed=secret_seal(old))]
    )
    refund_with_events()

    deliver_endpoint(endpoint.pk)

    request = merchant_receiver.requests("/a")[0]
    headers = _headers(request)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(request["body"], headers)
    Webhook(old).verify(request["body"], headers)


def test_after_the_overlap_only_the_new_secret_signs(merchant_receiver) -> None:
    old = secret_new()
    expired = previous_secret_entry(sealed=secret_seal(old), now=timezone.now() - timedelta(hours=25))
    endpoint, new = endpoint_at(merchant_receiver.endpoint_url("/a"), previous_secrets=[expired])
    refund_with_events()

    deliver_endpoint(endpoint.pk)

    request = merchant_receiver.requests("/a")[0]
    headers = _headers(request)
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(request["body"], headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(request["body"], headers)


def test_the_receiver_page_shows_the_signature_verified(merchant_receiver) -> None:
    endpoint, secret = endpoint_at(merchant_receiver.endpoint_url("/a"))
    merchant_receiver.set_secrets([secret], path="/a")
    refund_with_events()

    deliver_endpoint(endpoint.pk)

    assert all(r["signature_verified"] for r in merchant_receiver.requests("/a"))
    assert "✓" in merchant_receiver.page()


def test_one_merchants_endpoint_gets_none_of_anothers_events(merchant_receiver) -> None:
    from refunds.models import Merchant

    other = Merchant.objects.create(slug="other-shop", name="Other")
    mine, _ = endpoint_at(merchant_receiver.endpoint_url("/a"))
    theirs, _ = endpoint_at(merchant_receiver.endpoint_url("/b"), merchant=other)
    refund_with_events()

    deliver_endpoint(mine.pk)
    deliver_endpoint(theirs.pk)

    assert merchant_receiver.requests("/a")
    assert merchant_receiver.requests("/b") == []
