"""Signed Stripe refund events for the webhook tests (a pytest plugin of the root conftest).

One builder of the event envelope, one signer and the two ways in (the
service and the HTTP endpoint), so every webhook test speaks the same Stripe
shape: `refund_event(...)` gives the bytes, `receive` hands them to
`webhook_receive`, `post` to `/webhooks/payments/stripe`. A test module opts
in with `pytest.mark.usefixtures("stripe_webhooks")`, which makes Stripe the
provider and `SECRET` its webhook secret.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from providers.stripe.signature import sign_payload
from refunds.services.webhooks import WebhookResult, webhook_receive

SECRET = "whsec_refund_desk_webhook_tests"
ENDPOINT = "/webhooks/payments/stripe"


@pytest.fixture
def stripe_webhooks(settings) -> str:
    """Stripe as the provider, signing with `SECRET`."""
    settings.PROVIDER = "stripe"
    settings.PROVIDER_WEBHOOK_SECRET = SECRET
    return SECRET


def refund_event_body(
    *,
    event_id: str = "evt_1",
    event_type: str = "refund.updated",
    provider_refund_id: str = "re_1",
    status: str = "succeeded",
    amount: int = 3000,
    currency: str = "usd",
    refund_id: str = "rf_nobody",
    **fields: Any,
) -> dict[str, Any]:
    """A Stripe event about one refund; `fields` add to (or replace) the refund object's own."""
    refund = {
        "object": "refund",
        "id": provider_refund_id,
        "status": status,
        "amount": amount,
        "currency": currency,
        "metadata": {"refund_id": refund_id},
        **fields,
    }
    return {"id": event_id, "type": event_type, "created": int(time.time()), "data": {"object": refund}}


def refund_event(**body: Any) -> bytes:
    """The payload of `refund_event_body(**body)`, as Stripe sends it."""
    return json.dumps(refund_event_body(**body)).encode()


def signed_headers(payload: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Stripe-Signature": sign_payload(payload, secret)}


def receive(payload: bytes) -> WebhookResult:
    """The webhook service, as the endpoint calls it, with a valid signature."""
    return webhook_receive(provider="stripe", payload=payload, headers=signed_headers(payload))


def post(payload: bytes, client: Client | None = None):
    """The payload signed and posted to the Stripe endpoint; server errors come back as responses."""
    client = client or Client(raise_request_exception=False)
    return client.post(
        ENDPOINT, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign_payload(payload, SECRET)
    )
