import pytest
from rest_framework.test import APIClient

from tests.refunds.factories import api_key


@pytest.fixture
def client_for(db):
    """An API client authenticated with a new key (scopes, role and merchant slug as asked)."""

    def make(username="merchant", scopes=None, role=None, merchant=None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(username, scopes, role, merchant)}")
        return client

    return make


@pytest.fixture
def merchant(client_for):
    return client_for()


def create(client, order_id, key="k-1", headers=None, **body):
    payload = {"amount_minor": 1000, "currency": "USD", "reason": "other", **body}
    headers = dict(headers or {})
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(f"/v1/orders/{order_id}/refunds", payload, format="json", **headers)
