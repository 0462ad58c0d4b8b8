"""Orders pushed by the merchant: what may change once a payment has refunds."""

from __future__ import annotations

import pytest

from refunds.enums import OutboxStatus, RefundState
from refunds.models import OutboxMessage, Payment, Refund
from refunds.services.outbox import outbox_deliver
from tests.api.conftest import create
from tests.api.test_refunds import ORDER

pytestmark = pytest.mark.django_db


def test_the_provider_of_a_payment_with_refunds_cannot_be_changed(merchant):
    """Like its provider_payment_id and currency, a payment's provider is fixed once it has refunds.

    Otherwise an order upsert moves in-flight refunds to another provider: the
    pending outbox message is then executed by the new provider (manual refuses
    it: the refund FAILS terminally and is reversed although nobody asked the
    provider that holds the money), webhooks of the old provider no longer find
    the refund (`_find_refund` filters by the payment's provider), polling and
    reconciliation ask the wrong provider. The change is not even audited
    (`_order_snapshot` has no provider).
    """
    assert merchant.post("/v1/orders", ORDER, format="json").status_code == 201
    refund_id = create(merchant, "A-1", amount_minor=4000).json()["refund_id"]
    refund = Refund.objects.get(public_id=refund_id)
    assert refund.state == RefundState.APPROVED
    message = OutboxMessage.objects.get(refund=refund, status=OutboxStatus.PENDING)

    switched = {**ORDER, "payment": {**ORDER["payment"], "provider": "manual"}}
    response = merchant.post("/v1/orders", switched, format="json")

    provider_now = Payment.objects.get(pk=refund.payment_id).provider
    if response.status_code == 200:
        # Show what the switch does to the refund already on its way to Stripe.
        outbox_deliver(message_id=message.pk)
        refund.refresh_from_db()
        pytest.fail(
            f"upsert answered 200 and moved the payment to {provider_now!r}; the approved refund then went "
            f"{refund.state} ({refund.failure_code}) without Stripe ever being asked"
        )
    assert response.status_code == 409
    assert response.json()["code"] == "ERR.CONFLICT.order"
    assert response.json()["details"]["field"] == "payment.provider"
    assert provider_now == "stripe"


# --- issue 10 item 1: a captured payment cannot be rewritten ----------------------------------------

ERR_CONFLICT_ORDER = "ERR.CONFLICT.order"


def _push(merchant, payment=None, **order_fields):
    body = {**ORDER, **order_fields, "payment": {**ORDER["payment"], **(payment or {})}}
    return merchant.post("/v1/orders", body, format="json")


def _state_of_the_order() -> dict:
    payment = Payment.objects.select_related("order__customer").get(order__order_id="A-1")
    return {
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "order_currency": payment.order.currency,
        "status": payment.status,
        "captured_at": payment.captured_at,
        "provider_payment_id": payment.provider_payment_id,
        "service_starts_at": payment.order.service_starts_at,
        "customer_email": payment.order.customer.email,
    }


def test_a_charged_back_payment_cannot_be_rewritten_into_a_bigger_capture(merchant):
    """The attack of the issue: after a refund and a chargeback, the merchant pushes the same payment id
    as a fresh capture of 100,000.00 and asks for a 400.00 "duplicate" refund, which went out with no human."""
    assert _push(merchant, service_starts_at="2030-01-10T10:00:00Z").status_code == 201
    assert create(merchant, "A-1", key="first", amount_minor=4000).status_code == 202
    assert _push(merchant, {"status": "charged_back"}, service_starts_at="2030-01-10T10:00:00Z").status_code == 200
    kept = _state_of_the_order()

    response = _push(
        merchant,
        {"amount_minor": 10_000_000, "status": "captured", "captured_at": "2030-01-01T00:00:00Z"},
        service_starts_at="2031-01-10T10:00:00Z",
        customer={**ORDER["customer"], "email": "attacker@example.net"},
    )

    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["code"] == ERR_CONFLICT_ORDER
    assert body["details"]["field"] == "payment.amount_minor"
    assert _state_of_the_order() == kept
    duplicate = create(merchant, "A-1", key="duplicate", amount_minor=40000, reason="duplicate")
    assert duplicate.status_code == 422
    assert duplicate.json()["code"] == "ERR.BUSINESS.refund.charged_back"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"payment": {"amount_minor": 20000}}, "payment.amount_minor"),
        ({"payment": {"amount_minor": 5000}}, "payment.amount_minor"),
        ({"payment": {"captured_at": "2030-01-01T00:00:00Z"}}, "payment.captured_at"),
        ({"payment": {"captured_at": None}}, "payment.captured_at"),
        ({"payment": {"provider_payment_id": "pi_sim_ok_other"}}, "payment.provider_payment_id"),
        ({"payment": {"provider": "manual"}}, "payment.provider"),
        ({"currency": "EUR"}, "currency"),
        ({"payment": {"status": "capture_pending"}}, "payment.status"),
    ],
)
def test_a_captured_payment_is_immutable_even_without_refunds(merchant, change, field):
    assert _push(merchant).status_code == 201
    kept = _state_of_the_order()

    response = _push(merchant, change.get("payment"), **{k: v for k, v in change.items() if k != "payment"})

    assert response.status_code == 409, response.json()
    assert response.json()["code"] == ERR_CONFLICT_ORDER
    assert response.json()["details"]["field"] == field
    assert _state_of_the_order() == kept


@pytest.mark.parametrize("ended", ["charged_back", "voided"])
def test_a_charged_back_or_voided_payment_never_comes_back_to_captured(merchant, ended):
    assert _push(merchant).status_code == 201
    assert _push(merchant, {"status": ended}).status_code == 200

    response = _push(merchant, {"status": "captured"})

    assert response.status_code == 409
    assert response.json()["details"]["field"] == "payment.status"
    assert Payment.objects.get(order__order_id="A-1").status == ended


def test_legal_status_moves_and_same_status_pushes_are_accepted(merchant):
    assert _push(merchant, {"status": "capture_pending", "captured_at": None}).status_code == 201
    # Before capture the amount may still change (the capture can be partial).
    assert _push(merchant, {"status": "capture_pending", "captured_at": None, "amount_minor": 9000}).status_code == 200
    assert _push(merchant, {"status": "captured", "amount_minor": 9000}).status_code == 200
    assert _push(merchant, {"status": "captured", "amount_minor": 9000}).status_code == 200
    assert _push(merchant, {"status": "charged_back", "amount_minor": 9000}).status_code == 200
    assert _push(merchant, {"status": "charged_back", "amount_minor": 9000}).status_code == 200
    assert Payment.objects.get(order__order_id="A-1").status == "charged_back"


def test_service_start_is_frozen_once_a_refund_exists(merchant):
    """The fee schedule reads the start: moving it after a refund would re-price the cancellation."""
    assert _push(merchant, service_starts_at="2030-01-10T10:00:00Z").status_code == 201
    assert _push(merchant, service_starts_at="2030-02-10T10:00:00Z").status_code == 200  # no refund yet: fine
    assert create(merchant, "A-1", amount_minor=1000, reason="quality").status_code == 202
    kept = _state_of_the_order()

    response = _push(merchant, service_starts_at="2030-03-10T10:00:00Z")

    assert response.status_code == 409
    assert response.json()["details"]["field"] == "service_starts_at"
    assert _state_of_the_order() == kept
    assert _push(merchant, service_starts_at="2030-02-10T10:00:00Z").status_code == 200


def test_a_payment_id_of_another_order_is_a_conflict_not_a_crash(merchant):
    assert _push(merchant).status_code == 201

    response = _push(merchant, order_id="A-2")

    assert response.status_code == 409
    assert response.json()["code"] == ERR_CONFLICT_ORDER
    assert response.json()["details"]["field"] == "payment.provider_payment_id"
    assert not Payment.objects.filter(order__order_id="A-2").exists()
