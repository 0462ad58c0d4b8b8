"""`POST /v1/orders/{order_id}/request_links`: a signed portal link for the merchant's order email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import ERR_AUTHZ_SCOPE, ERR_NOT_FOUND
from refunds.enums import Scope
from tests.portal.conftest import shop_order

pytestmark = pytest.mark.django_db


def test_a_link_opens_the_order_in_the_portal(merchant, settings):
    shop_order()
    response = merchant.post("/v1/orders/1002/request_links", format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"url", "expires_at"}
    assert body["url"].startswith(f"{settings.APP_BASE_URL}/request/")
    expires = parse_datetime(body["expires_at"])
    assert timedelta(days=29) < expires - timezone.now() <= timedelta(days=settings.PORTAL_LINK_MAX_AGE_DAYS)
    browser = Client()
    assert browser.get(body["url"].removeprefix(settings.APP_BASE_URL)).url == "/request/order/"
    assert "Blue mug" in browser.get("/request/order/").content.decode()


def test_another_merchants_order_is_not_found(client_for, globex):
    shop_order()
    response = client_for(username="globex-key", merchant="globex").post("/v1/orders/1002/request_links")
    assert response.status_code == 404 and response.json()["code"] == ERR_NOT_FOUND


def test_the_call_needs_orders_write(client_for):
    shop_order()
    response = client_for(scopes=[Scope.REFUNDS_READ]).post("/v1/orders/1002/request_links")
    assert response.status_code == 403 and response.json()["code"] == ERR_AUTHZ_SCOPE
