"""Tenancy: a merchant's key reaches only its own orders, customers and refunds (issue 10 item 3).

Two merchants, one key each. Every attack is made with the other merchant's
key on objects that exist: each answers 404 ERR.NOT_FOUND, the same answer as
an id that exists nowhere (never 403, which would confirm the object exists),
and changes nothing.
"""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from core.errors import ERR_NOT_FOUND
from refunds.enums import RefundState
from refunds.models import Customer, Order, Payment, Refund
from refunds.services.merchants import merchant_create
from tests.api.conftest import create
from tests.refunds.factories import captured_yesterday

pytestmark = pytest.mark.django_db


def _order(order_id: str, *, customer_id: str, email: str, payment_id: str, amount_minor: int = 10000) -> dict:
    return {
        "order_id": order_id,
        "currency": "USD",
        "customer": {"id": customer_id, "email": email},
        "lines": [{"sku": "X", "unit_amount_minor": amount_minor}],
        "payment": {
            "provider_payment_id": payment_id,
            "rail": "card",
            "amount_minor": amount_minor,
            "status": "captured",
            "captured_at": captured_yesterday(),
        },
    }


VICTIM_ORDER = _order("A-1", customer_id="c-1", email="victim@example.com", payment_id="pi_sim_ok_acme_a1")


@pytest.fixture
def merchants(system_actor):
    merchant_create(slug="acme", name="Acme", actor=system_actor)
    merchant_create(slug="globex", name="Globex", actor=system_actor)


@pytest.fixture
def victim(client_for, merchants):
    return client_for("acme-system", merchant="acme")


@pytest.fixture
def attacker(client_for, merchants):
    return client_for("globex-system", merchant="globex")


@pytest.fixture
def victim_refund(victim) -> str:
    """Acme's order A-1 with a refund under review (goodwill), so it can still be decided or canceled."""
    assert victim.post("/v1/orders", VICTIM_ORDER, format="json").status_code == 201
    response = create(victim, "A-1", amount_minor=4000, reason="goodwill")
    assert response.status_code == 202, response.json()
    assert response.json()["state"] == RefundState.REQUESTED
    return response.json()["refund_id"]


def _not_found(response) -> None:
    assert response.status_code == 404, response.content
    assert response.json()["code"] == ERR_NOT_FOUND


def test_reading_another_merchants_order_refunds_answers_404(attacker, victim_refund):
    _not_found(attacker.get("/v1/orders/A-1/refunds"))


def test_reading_another_merchants_refund_answers_404_like_an_unknown_id(attacker, victim_refund):
    response = attacker.get(f"/v1/refunds/{victim_refund}")
    _not_found(response)
    unknown = attacker.get("/v1/refunds/rf_000000000000000000000000")
    assert response.json() == {**unknown.json(), "correlation_id": response.json().get("correlation_id")}


def test_refunding_another_merchants_order_answers_404_and_reserves_nothing(attacker, victim_refund):
    _not_found(create(attacker, "A-1", key="steal", amount_minor=6000))
    assert Refund.objects.count() == 1
    assert Payment.objects.get(provider_payment_id="pi_sim_ok_acme_a1").refund_reserved_minor == 4000


def test_canceling_another_merchants_refund_answers_404_and_changes_nothing(attacker, victim_refund):
    _not_found(attacker.post(f"/v1/refunds/{victim_refund}/cancel", {"note": "x"}, format="json"))
    assert Refund.objects.get(public_id=victim_refund).state == RefundState.REQUESTED


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("decision", {"decision": "deny", "note": "no"}),
        ("decision", {"decision": "approve"}),
        ("submit", None),
        ("payout", {"reference": "BANK-1"}),
    ],
)
def test_acting_on_another_merchants_refund_answers_404_and_changes_nothing(
    client_for, merchants, victim_refund, path, body
):
    # A key with every scope and a senior's role: only the merchant stands in the way.
    senior = client_for("globex-senior", role="senior_agent", merchant="globex")
    before = AuditEvent.objects.count()
    _not_found(senior.post(f"/v1/refunds/{victim_refund}/{path}", body, format="json"))
    assert Refund.objects.get(public_id=victim_refund).state == RefundState.REQUESTED
    assert AuditEvent.objects.count() == before


def test_an_order_id_is_unique_per_merchant_not_across_merchants(attacker, victim_refund):
    """Globex pushing "A-1" makes its own order; acme's order, payment and customer are untouched."""
    clash = _order("A-1", customer_id="c-1", email="attacker@example.net", payment_id="pi_sim_ok_globex_a1")
    clash["payment"]["amount_minor"] = clash["lines"][0]["unit_amount_minor"] = 999900
    assert attacker.post("/v1/orders", clash, format="json").status_code == 201
    assert Order.objects.filter(order_id="A-1").count() == 2
    acme = Order.objects.select_related("payment", "customer").get(order_id="A-1", merchant__slug="acme")
    assert acme.payment.provider_payment_id == "pi_sim_ok_acme_a1"
    assert acme.payment.amount_minor == 10000
    assert acme.customer.email == "victim@example.com"
    assert attacker.get("/v1/orders/A-1/refunds").json()["refunds"] == []


def test_a_push_with_another_merchants_customer_id_cannot_take_the_customer_over(attacker, victim_refund):
    """Issue 10 item 4 across merchants: the victim's address stays; the attacker gets a customer of its own."""
    takeover = _order("G-1", customer_id="c-1", email="attacker@example.net", payment_id="pi_sim_ok_globex_g1")
    assert attacker.post("/v1/orders", takeover, format="json").status_code == 201
    victim_customer = Customer.objects.get(external_id="c-1", merchant__slug="acme")
    assert victim_customer.email == "victim@example.com"
    assert Customer.objects.get(external_id="c-1", merchant__slug="globex").email == "attacker@example.net"
    assert Refund.objects.get(public_id=victim_refund).order.customer == victim_customer


def test_the_owning_merchant_still_reads_and_cancels(victim, victim_refund):
    assert victim.get(f"/v1/refunds/{victim_refund}").status_code == 200
    assert victim.get("/v1/orders/A-1/refunds").json()["refunds"][0]["refund_id"] == victim_refund
    response = victim.post(f"/v1/refunds/{victim_refund}/cancel", {"note": "customer withdrew"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == RefundState.CANCELED


def test_a_key_without_a_merchant_belongs_to_the_default_merchant(merchant):
    """Single-merchant use is unchanged: no merchant named, one tenant, everything reachable."""
    assert merchant.post("/v1/orders", VICTIM_ORDER, format="json").status_code == 201
    assert Order.objects.get(order_id="A-1").merchant.slug == "default"
    assert create(merchant, "A-1", amount_minor=4000).status_code == 202
