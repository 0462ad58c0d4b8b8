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
    assert response.status_code == 400
    assert provider_now == "stripe"
