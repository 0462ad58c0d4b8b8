"""The status page of a refund by line shows its units; of a refund for time not used, the arithmetic (issue 15)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds.enums import Reason
from refunds.services.lines import LineRequest
from refunds.services.request import refund_request
from tests.refunds.factories import OrderLineFactory, captured_order, requester
from tests.refunds.proration_fixtures import prorated_refund, prorating_policy, running_service

pytestmark = pytest.mark.django_db


def page(client, refund) -> str:
    response = client.get(f"/r/{refund.status_token}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_refund_by_line_lists_the_units_it_takes_back_not_the_whole_order(client):
    order = captured_order(amount_minor=20000)
    OrderLineFactory(order=order, line_no=1, sku="KTL", description="Kettle", unit_amount_minor=3000, quantity=3)
    OrderLineFactory(order=order, line_no=2, sku="MUG", description="Blue mug", unit_amount_minor=500, quantity=2)
    refund = refund_request(
        order=order, lines=[LineRequest("KTL", 2)], currency="USD", reason=Reason.OTHER, actor=requester()
    )
    with CaptureQueriesContext(connection) as queries:
        body = page(client, refund)
    assert "2 × Kettle" in body and "Blue mug" not in body
    assert len(queries) <= 2  # the page's budget (tests/status_page/test_page.py) holds


def test_a_refund_by_amount_still_lists_the_orders_items(client):
    order = captured_order(amount_minor=20000)
    OrderLineFactory(order=order, line_no=1, sku="KTL", description="Kettle", unit_amount_minor=3000, quantity=3)
    refund = refund_request(order=order, amount_minor=100, currency="USD", reason=Reason.OTHER, actor=requester())
    assert "3 × Kettle" in page(client, refund)


def test_a_refund_for_time_not_used_shows_the_arithmetic_in_the_customers_language(client):
    prorating_policy()
    refund = prorated_refund(running_service(order__customer__locale="de"))
    body = page(client, refund)
    assert 'id="proration"' in body
    assert "300,00\xa0€ × 11/30" in body  # German amounts; the words are translated with the .po files


def test_no_proration_line_for_other_refunds(client):
    refund = refund_request(
        order=captured_order(), amount_minor=100, currency="USD", reason=Reason.OTHER, actor=requester()
    )
    assert 'id="proration"' not in page(client, refund)
