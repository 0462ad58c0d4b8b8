"""The console's request form offers an amount, units by line, or the time not used (issue 15); the card shows them."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from refunds.enums import PolicyStatus, Reason, RefundState, Role
from refunds.models import OrderLine, Refund, RefundPolicy
from refunds.services.policy import policy_get_active
from tests.refunds.factories import OrderLineFactory, captured_order

pytestmark = pytest.mark.django_db


def create_url(order) -> str:
    return f"/console/refunds/new/?order={order.order_id}"


def order_with_lines():
    order = captured_order(amount_minor=20000)
    OrderLineFactory(
        order=order, line_no=1, sku="KTL", description="Kettle", unit_amount_minor=3000, quantity=3, tax_minor=100
    )
    OrderLineFactory(
        order=order, line_no=2, sku="", description="Gift wrap", unit_amount_minor=500, quantity=1, tax_minor=0
    )
    return order


def test_the_form_offers_each_addressable_line_with_what_is_left(agent_client):
    order = order_with_lines()
    OrderLine.objects.filter(order=order, sku="KTL").update(refunded_quantity=1)
    html = agent_client.get(create_url(order)).content.decode()
    assert 'value="lines"' in html and "By line" in html
    assert 'name="line_1"' in html and "2 of 3 left to refund." in html
    assert 'name="line_2"' not in html  # no sku: refunded by amount only
    assert 'value="time"' not in html  # not a service


def test_an_agent_refunds_units_of_a_line(agent_client):
    order = order_with_lines()
    response = agent_client.post(
        create_url(order), {"how": "lines", "line_1": "2", "amount": "", "reason": Reason.OTHER}
    )
    refund = Refund.objects.get(order=order)
    assert response.status_code == 302
    assert refund.amount_minor == 9100 * 2 // 3
    assert OrderLine.objects.get(order=order, sku="KTL").refunded_quantity == 2

    card = agent_client.get(f"/console/refunds/{refund.public_id}/").content.decode()
    assert 'id="refund-what"' in card and "Kettle" in card and "60.66 USD" in card
    assert "2 refunded" in card


def test_more_units_than_are_left_come_back_on_the_lines_field(agent_client):
    order = order_with_lines()
    OrderLine.objects.filter(order=order, sku="KTL").update(refunded_quantity=2)
    response = agent_client.post(create_url(order), {"how": "lines", "line_1": "2", "reason": Reason.OTHER})
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 1." in response.content.decode()
    assert not Refund.objects.filter(order=order).exists()


def test_by_line_without_any_quantity_is_refused(agent_client):
    order = order_with_lines()
    response = agent_client.post(create_url(order), {"how": "lines", "line_1": "0", "reason": Reason.OTHER})
    assert response.status_code == 400
    assert "at least one line" in response.content.decode()


def test_the_amount_of_a_refund_by_line_is_not_offered_for_editing(agent_client, login):
    order = order_with_lines()
    agent_client.post(create_url(order), {"how": "lines", "line_1": "1", "reason": Reason.GOODWILL})
    refund = Refund.objects.get(order=order)
    assert refund.state == RefundState.REQUESTED
    # Another agent (not the requester) opens the edit form of the reviewed refund.
    html = login("senior-2", Role.SENIOR_AGENT).get(f"/console/refunds/{refund.public_id}/edit/").content.decode()
    assert "cannot be edited: this refund is by line" in html
    assert 'type="hidden" name="amount"' in html


def test_time_not_used_is_offered_for_a_service_when_the_policy_prorates(agent_client):
    policy_get_active()
    now = timezone.now() - timedelta(seconds=1)
    RefundPolicy.objects.create(
        version=2, status=PolicyStatus.APPROVED, reviewed_at=now, activates_at=now, proration_enabled=True
    )
    first = timezone.localtime(timezone.now(), ZoneInfo("UTC")).date() - timedelta(days=18)
    order = captured_order(
        amount_minor=30000,
        currency="EUR",
        order__service_starts_at=datetime.combine(first, time(0), tzinfo=ZoneInfo("UTC")),
        order__service_ends_at=datetime.combine(first + timedelta(days=30), time(0), tzinfo=ZoneInfo("UTC")),
    )
    assert 'value="time"' in agent_client.get(create_url(order)).content.decode()

    response = agent_client.post(create_url(order), {"how": "time", "reason": Reason.QUALITY})
    refund = Refund.objects.get(order=order)
    assert response.status_code == 302 and refund.amount_minor == 11000
    card = agent_client.get(f"/console/refunds/{refund.public_id}/").content.decode()
    assert "€300.00 × 11/30 days unused = €110.00" in card
