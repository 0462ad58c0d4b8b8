"""A NUL character in a path or query is refused before any view reads the database (issue 10, 14; issue 11, 7).

PostgreSQL cannot hold NUL in text: a view that looks up `x\\x00` used to raise
from psycopg, a 500. Paths answer 404 (no such page), queries 400; the API
and webhooks with the usual error JSON, staff and customer pages with a page.
"""

from __future__ import annotations

import pytest
from django.test import Client

from core.errors import ERR_NOT_FOUND, ERR_VALIDATION
from refunds.enums import Role
from tests.refunds.factories import UserFactory, api_key
from tests.support.routes import routes

# Every API and webhook path with an id in it, from the URL patterns: a path added later is covered too.
ID_ROUTES = [r for r in routes("v1/", "webhooks/") if r.parameters]
NUL_IDS = ["x%00", "%00", "rf_%00abc", "%00%00", "x%00%2F"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant() -> Client:
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {api_key()}")


@pytest.fixture
def staff() -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(username="finance-agent", role=Role.FINANCE))
    return client


@pytest.mark.parametrize(
    "path", ["/v1/orders/x%00/refunds", "/v1/refunds/rf_%00", "/v1/refunds/%00/decision", "/webhooks/payments/%00"]
)
def test_nul_in_an_api_path_is_a_404_with_the_error_json(merchant, path):
    response = merchant.get(path) if "decision" not in path and "webhooks" not in path else merchant.post(path)

    assert response.status_code == 404, response.content[:300]
    assert response.json()["code"] == ERR_NOT_FOUND


def test_the_id_paths_are_found():
    assert {r.name for r in ID_ROUTES} >= {"api:order-refunds", "api:refund-detail", "webhooks-payments-provider"}


@pytest.mark.parametrize("nul_id", NUL_IDS)
@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda r: r.name)
def test_nul_in_every_id_of_every_api_path_is_a_404_with_the_error_json(merchant, route, nul_id):
    path = route.path(dict.fromkeys(route.parameters, nul_id))
    for method in sorted(route.methods):
        response = getattr(merchant, method)(path, HTTP_IDEMPOTENCY_KEY="k-nul")

        assert response.status_code == 404, (method, path, response.content[:300])
        assert response.json()["code"] == ERR_NOT_FOUND


@pytest.mark.parametrize("query", ["?state=%00", "?x%00=1", "?cursor=a%00b"])
def test_nul_in_an_api_query_is_a_400_with_the_error_json(merchant, query):
    response = merchant.get(f"/v1/orders/A-1/refunds{query}")

    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == ERR_VALIDATION


@pytest.mark.parametrize(
    "path",
    ["/console/refunds/%00/", "/console/refunds/rf_%00/timeline/", "/r/%00/", "/r/abc%00def/", "/finance/runs/1%00/"],
)
def test_nul_in_a_page_path_is_a_plain_404(staff, path):
    response = staff.get(path)

    assert response.status_code == 404, response.content[:300]
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "url",
    [
        "/console/?q=%00",
        "/console/?state=%00",
        "/console/refunds/new/?order=%00",
        "/finance/?provider=%00",
        "/r/sometoken/?lang=%00",
    ],
)
def test_nul_in_a_page_query_is_a_plain_400(staff, url):
    response = staff.get(url)

    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("text/html")


def test_a_path_with_an_encoded_percent_sign_is_not_mistaken_for_nul(staff):
    assert staff.get("/console/refunds/%2500/").status_code == 404
    assert staff.get("/console/?q=%2500").status_code == 200
