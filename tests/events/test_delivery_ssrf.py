"""SSRF at delivery: the address is checked at each attempt, and the request goes to the address checked."""

from __future__ import annotations

import socket

import pytest

from events.delivery import deliver_endpoint
from events.enums import DeliveryStatus
from events.models import WebhookAttempt, WebhookEndpoint
from tests.events.webhook_setup import endpoint_at, pending, refund_with_events

pytestmark = pytest.mark.django_db


def _registered_then_repointed(merchant_receiver, settings, url: str) -> WebhookEndpoint:
    """An endpoint registered with a public URL, whose row now points at our own loopback receiver."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    endpoint, _ = endpoint_at("https://hooks.example.com/a")
    refund_with_events()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url)
    return endpoint


@pytest.mark.parametrize(
    "template",
    ["https://127.0.0.1:{port}/a", "http://127.0.0.1:{port}/a", "https://localhost:{port}/a", "http://[::1]:{port}/a"],
)
def test_a_private_address_is_refused_without_any_request(merchant_receiver, settings, template) -> None:
    endpoint = _registered_then_repointed(merchant_receiver, settings, template.format(port=merchant_receiver.port))

    deliver_endpoint(endpoint.pk)

    assert merchant_receiver.requests() == []
    attempts = list(WebhookAttempt.objects.filter(endpoint=endpoint))
    assert attempts and all(a.error.startswith("refused: ") and a.status_code is None for a in attempts)
    assert all(d.attempts == 1 for d in pending(endpoint))  # retried later, like any failure


def test_the_metadata_service_address_is_refused(merchant_receiver, settings) -> None:
    endpoint = _registered_then_repointed(merchant_receiver, settings, "https://169.254.169.254/latest/meta-data/")

    deliver_endpoint(endpoint.pk)

    assert "169.254.169.254" in WebhookAttempt.objects.filter(endpoint=endpoint).first().error


def test_the_request_goes_to_the_checked_address_named_as_host(merchant_receiver, settings, monkeypatch) -> None:
    """A name is resolved once per attempt, and that very address is connected to: no second lookup to rebind."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    real = socket.getaddrinfo
    lookups: list[str] = []

    def resolver(host, *args, **kwargs):
        if host == "hooks.merchant.test":
            lookups.append(host)
            # The first answer is the one checked; a rebinding DNS would answer otherwise the next time.
            target = "127.0.0.1" if len(lookups) == 1 else "10.9.9.9"
            return real(target, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    endpoint, _ = endpoint_at(f"http://hooks.merchant.test:{merchant_receiver.port}/a")
    endpoint.events = ["refund.created"]
    endpoint.save(update_fields=["events"])
    refund_with_events()

    deliver_endpoint(endpoint.pk)

    (request,) = merchant_receiver.requests("/a")
    assert request["headers"]["Host"] == f"hooks.merchant.test:{merchant_receiver.port}"
    assert lookups == ["hooks.merchant.test"]
    assert endpoint.deliveries.get().status == DeliveryStatus.DELIVERED
