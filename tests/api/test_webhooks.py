"""The providers' webhook endpoints: /webhooks/payments (the default provider) and /webhooks/payments/<provider>."""

import json
import time

import pytest

from providers.stripe.signature import sign_payload
from refunds.enums import WebhookStatus
from refunds.models import WebhookEvent

pytestmark = pytest.mark.django_db
SECRET = "whsec_endpoint"


@pytest.fixture(autouse=True)
def _stripe(settings):
    settings.PROVIDER_WEBHOOK_SECRET = SECRET


def signed_event(event_id: str = "evt_endpoint") -> tuple[bytes, str]:
    body = {
        "id": event_id,
        "type": "refund.updated",
        "created": int(time.time()),
        "data": {"object": {"object": "refund", "id": "re_nobody", "status": "succeeded", "amount": 500}},
    }
    payload = json.dumps(body).encode()
    return payload, sign_payload(payload, SECRET)


def post(client, path: str, payload: bytes, signature: str):
    return client.post(path, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


def test_the_default_endpoint_receives_the_default_providers_events(client, settings):
    settings.PROVIDER = "stripe"
    response = post(client, "/webhooks/payments", *signed_event())
    assert response.status_code == 200
    assert response.json()["status"] == WebhookStatus.UNKNOWN_REFUND
    assert WebhookEvent.objects.get().provider == "stripe"


def test_a_named_provider_has_its_own_endpoint_whatever_the_default(client, settings):
    settings.PROVIDER = "manual"  # payments default to manual payouts, some are held by Stripe
    assert post(client, "/webhooks/payments/stripe", *signed_event()).status_code == 200
    assert WebhookEvent.objects.get().provider == "stripe"


@pytest.mark.parametrize("path", ["/webhooks/payments/nobody", "/webhooks/payments/manual"])
def test_an_unknown_provider_or_one_without_webhooks_is_refused_and_nothing_is_stored(client, path):
    response = post(client, path, *signed_event())
    assert response.status_code == 400
    assert response.json()["code"] == "ERR.WEBHOOK.rejected"
    assert not WebhookEvent.objects.exists()


def test_event_ids_are_unique_per_provider_not_across_providers():
    WebhookEvent.objects.create(provider="stripe", event_id="evt_1", event_type="x", payload={}, status="ignored")
    WebhookEvent.objects.create(provider="adyen", event_id="evt_1", event_type="x", payload={}, status="ignored")
    assert WebhookEvent.objects.filter(event_id="evt_1").count() == 2
