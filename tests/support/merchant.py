"""What a merchant system does over HTTP in the end-to-end tests: push orders, ask for refunds, follow them."""

from __future__ import annotations

import itertools
import os
import uuid

from tests.refunds.factories import captured_yesterday
from tests.support.live import ApiClient, wait_for

# Order ids must not repeat within a test database; the pid keeps xdist workers' ids apart in logs too.
_orders = itertools.count(1)


def push_order(
    client: ApiClient,
    *,
    mode: str = "ok",
    amount_minor: int = 10000,
    currency: str = "USD",
    status: str = "captured",
    lines: list[dict] | None = None,
) -> tuple[str, str]:
    """Push an order through the API; its payment id picks the simulator's behaviour (`pi_sim_<mode>_…`).

    Without `lines`, one line of `amount_minor`; with them (`sku`, `unit_amount_minor`, `quantity`,
    `tax_minor` each), the payment is their total. Returns the order id and the provider payment id.
    """
    order_id = f"O{os.getpid()}-{next(_orders):05d}"
    payment_id = f"pi_sim_{mode}_{order_id.lower().replace('-', '')}"
    if lines is None:
        tax_minor = amount_minor // 11
        lines = [{"sku": "SKU", "unit_amount_minor": amount_minor - tax_minor, "tax_minor": tax_minor}]
    else:
        amount_minor = sum(line["unit_amount_minor"] * line.get("quantity", 1) + line["tax_minor"] for line in lines)
    response = client.post(
        "/v1/orders",
        {
            "order_id": order_id,
            "currency": currency,
            "customer": {"id": f"c-{order_id}", "email": "buyer@example.com"},
            "lines": lines,
            "payment": {
                "provider_payment_id": payment_id,
                "rail": "card",
                "amount_minor": amount_minor,
                "status": status,
                "captured_at": captured_yesterday() if status == "captured" else None,
            },
        },
    )
    assert response.status_code == 201, response.text
    return order_id, payment_id


def refund_body(amount_minor: int, **extra: object) -> dict:
    return {"amount_minor": amount_minor, "currency": "USD", "reason": "not_received", **extra}


def create_refund(client: ApiClient, order_id: str, amount_minor: int = 5000) -> str:
    """Ask for a refund (auto-approved below the review threshold); returns its public id."""
    response = client.post(
        f"/v1/orders/{order_id}/refunds", refund_body(amount_minor), **{"Idempotency-Key": f"create-{order_id}"}
    )
    assert response.status_code == 202, response.text
    return response.json()["refund_id"]


def wait_state(client: ApiClient, refund_id: str, states: set[str], timeout: float = 30.0) -> dict:
    """The refund as the API shows it, once it is in one of `states`."""

    def current() -> dict | None:
        body = client.get(f"/v1/refunds/{refund_id}").json()
        return body if body["state"] in states else None

    return wait_for(current, timeout=timeout, message=f"{refund_id} to reach {states}")


# --- Events and webhooks (issue 14) --------------------------------------------------------------


def merchant_client(base_url: str, slug: str, *, username: str | None = None) -> ApiClient:
    """A merchant of its own (onboarded here) and an API client with a key of it holding every scope."""
    from core.actor import Actor
    from refunds.services.merchants import merchant_create
    from tests.refunds.factories import api_key

    merchant_create(slug=slug, name=slug.title(), actor=Actor.system("test"))
    return ApiClient(base_url, api_key(username or f"{slug}-system", merchant=slug))


def register_endpoint(client: ApiClient, url: str, events: list[str] | None = None) -> tuple[str, str]:
    """Register a webhook endpoint through the API; returns its id (we_…) and its secret (whsec_…, shown once)."""
    response = client.post(
        "/v1/webhook_endpoints",
        {"url": url, "events": events or ["refund.*"], "description": "e2e receiver"},
        **{"Idempotency-Key": f"endpoint-{uuid.uuid4()}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["secret"]


def listed_events(client: ApiClient) -> list[dict]:
    """Every event the key's merchant has, as GET /v1/events pages through them (oldest first)."""
    events: list[dict] = []
    after = None
    while True:
        response = client.get("/v1/events?limit=100" + (f"&after={after}" if after else ""))
        assert response.status_code == 200, response.text
        page = response.json()
        events += page["data"]
        if not page["has_more"]:
            return events
        after = page["next_after"]


def verified_deliveries(requests_: list[dict], *secrets: str) -> list[dict]:
    """The events of webhook requests a receiver recorded, each verified with every secret given, alone.

    Raises (standardwebhooks' WebhookVerificationError) when any request does not verify with any one of them.
    """
    from standardwebhooks.webhooks import Webhook

    events = []
    for request in requests_:
        headers = {name.lower(): value for name, value in request["headers"].items()}
        verified = [Webhook(secret).verify(request["body"], headers) for secret in secrets]
        assert all(event == verified[0] for event in verified)
        assert headers["webhook-id"] == verified[0]["id"]
        events.append(verified[0])
    return events
