"""Staff see every merchant (issue 10 item 3): the merchant on queue rows and cards, a merchant
filter, and a create form that asks whose order is meant when two merchants use one order id."""

from __future__ import annotations

import pytest

from refunds.enums import Reason
from refunds.models import Refund
from refunds.services.merchants import merchant_create
from tests.console.conftest import htmx_headers
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def globex(system_actor):
    return merchant_create(slug="globex", name="Globex Corp", actor=system_actor)


def _review(order_id: str, merchant=None) -> Refund:
    fields = {"order__order_id": order_id}
    if merchant is not None:
        fields["order__merchant"] = merchant
    return make_refund(order=captured_order(amount_minor=50000, **fields), amount_minor=5000, reason=Reason.GOODWILL)


def listed(response) -> list[str]:
    return [row.refund.public_id for row in response.context["rows"]]


def test_the_queue_shows_every_merchants_refunds_with_their_merchant(agent_client, globex):
    ours, theirs = _review("A-1"), _review("A-1", globex)
    response = agent_client.get("/console/")
    assert listed(response) == [ours.public_id, theirs.public_id]
    html = response.content.decode()
    assert '<th scope="col">Merchant</th>' in html
    assert "<td>Globex Corp</td>" in html and "<td>Default merchant</td>" in html


def test_the_merchant_filter_narrows_the_rows_and_the_tab_counts(agent_client, globex):
    _review("A-1")
    theirs = _review("G-1", globex)
    response = agent_client.get("/console/?merchant=globex", **htmx_headers("queue-results"))
    assert listed(response) == [theirs.public_id]
    assert response.context["counts"]["waiting"] == 1
    assert agent_client.get("/console/").context["counts"]["waiting"] == 2


def test_a_single_merchant_installation_shows_no_merchant_column_or_filter(agent_client):
    _review("A-1")
    html = agent_client.get("/console/").content.decode()
    assert '<th scope="col">Merchant</th>' not in html
    assert 'name="merchant"' not in html


def test_the_card_names_the_refunds_merchant(agent_client, globex):
    refund = _review("G-1", globex)
    html = agent_client.get(f"/console/refunds/{refund.public_id}/").content.decode()
    assert '<span id="card-merchant">merchant Globex Corp</span>' in html


def test_the_card_shows_the_address_the_refunds_emails_go_to_when_it_changed_since(agent_client):
    refund = _review("A-1")
    customer = refund.order.customer
    customer.email = "new@example.org"
    customer.save()
    html = agent_client.get(f"/console/refunds/{refund.public_id}/").content.decode()
    assert f'<dd id="refund-email">{refund.customer_email}' in html


def test_creating_on_a_clashing_order_id_asks_whose_order_and_then_refunds_that_one(agent_client, globex):
    ours = captured_order(order__order_id="A-1")
    theirs = captured_order(order__order_id="A-1", order__merchant=globex)
    response = agent_client.get("/console/refunds/new/?order=A-1")
    assert response.status_code == 200
    assert response.context["order"] is None
    html = response.content.decode()
    assert "Several merchants have an order “A-1”" in html
    assert 'href="/console/refunds/new/?order=A-1&amp;merchant=globex"' in html

    picked = agent_client.get("/console/refunds/new/?order=A-1&merchant=globex")
    assert picked.context["order"] == theirs
    assert '<dd id="order-merchant">Globex Corp</dd>' in picked.content.decode()
    response = agent_client.post(
        "/console/refunds/new/?order=A-1&merchant=globex", {"amount": "20.00", "reason": "other"}
    )
    assert response.status_code == 302
    assert Refund.objects.get().order == theirs
    assert not Refund.objects.filter(order=ours).exists()


def test_a_merchant_without_that_order_id_is_reported(agent_client, globex):
    captured_order(order__order_id="A-1")
    response = agent_client.get("/console/refunds/new/?order=A-1&merchant=globex")
    assert response.status_code == 404
    assert "No order with id “A-1” at merchant globex." in response.content.decode()
