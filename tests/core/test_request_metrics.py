"""`http_request_duration_seconds{route,method,status}`: every request Django answers, by URL pattern name."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import create
from tests.refunds.factories import api_key, captured_yesterday
from tests.support.samples import Delta

pytestmark = pytest.mark.django_db

ORDER = {
    "order_id": "M-1",
    "currency": "USD",
    "customer": {"id": "c-1", "email": "c@example.com"},
    "lines": [{"sku": "A", "unit_amount_minor": 9000, "tax_minor": 1000}],
    "payment": {"provider_payment_id": "pi_sim_ok_m1", "rail": "card", "amount_minor": 10000, "status": "captured"},
}


@pytest.fixture
def merchant() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('merchant')}")
    return client


def requests_of(route: str, method: str, status: str) -> Delta:
    return Delta("http_request_duration_seconds_count", route=route, method=method, status=status)


def test_api_create_and_read_are_counted_under_their_route_names(merchant):
    order = {**ORDER, "payment": {**ORDER["payment"], "captured_at": captured_yesterday()}}
    assert merchant.post("/v1/orders", order, format="json").status_code == 201
    creates = requests_of("api:order-refunds", "POST", "2xx")
    reads = requests_of("api:refund-detail", "GET", "2xx")
    refund_id = create(merchant, "M-1", key="k1", amount_minor=100).json()["refund_id"]
    assert merchant.get(f"/v1/refunds/{refund_id}").status_code == 200
    assert merchant.get("/v1/refunds/rf_unknown").status_code == 404
    assert (creates.now(), reads.now()) == (1, 1)


def test_a_refusal_counts_under_the_route_with_its_status_class(client):
    unauthenticated = requests_of("api:refund-detail", "GET", "4xx")
    assert client.get("/v1/refunds/rf_x").status_code == 401
    assert unauthenticated.now() == 1


def test_a_path_no_pattern_matches_is_unmatched_never_the_path(client):
    unmatched = requests_of("unmatched", "GET", "4xx")
    assert client.get("/no/such/page-123").status_code == 404
    assert unmatched.now() == 1
    assert (
        Delta("http_request_duration_seconds_count", route="/no/such/page-123", method="GET", status="4xx").now() == 0
    )


def test_a_request_a_middleware_answers_first_still_names_its_route(client):
    # RequestBodyLimitMiddleware answers 413 before the URL is resolved.
    too_large = requests_of("api:order-refunds", "POST", "4xx")
    response = client.post("/v1/orders/X/refunds", data=b"x" * (3 * 1024 * 1024), content_type="application/json")
    assert response.status_code == 413
    assert too_large.now() == 1


def test_an_unknown_method_is_other(client):
    other = requests_of("metrics", "other", "4xx")
    assert client.generic("BREW", "/metrics").status_code == 405
    assert other.now() == 1
