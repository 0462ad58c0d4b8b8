"""The status page of a store-credit refund shows the code, the credit, what is left and the expiry (issue 15)."""

from __future__ import annotations

import pytest

from credits.models import StoreCredit
from credits.services.redeem import credit_redeem
from refunds.enums import RefundInstrument
from tests.credits.factories import store_credit_policy
from tests.refunds.factories import make_refund, merchant_system
from tests.support.customer_states import customer_order

pytestmark = pytest.mark.django_db


def test_the_page_shows_the_code_balance_and_expiry(client):
    store_credit_policy(bonus_percent=10, expiry_days=30)
    refund = make_refund(order=customer_order(locale="en"), amount_minor=4000, instrument=RefundInstrument.STORE_CREDIT)
    credit = StoreCredit.objects.get(refund=refund)
    credit_redeem(
        code=credit.code,
        merchant_id=credit.merchant_id,
        amount_minor=1000,
        currency="USD",
        idempotency_key="a",
        actor=merchant_system(),
    )
    page = client.get(f"/r/{refund.status_token}/", {"lang": "en"}).content.decode()
    assert "Your store credit is ready" in page
    assert credit.code in page
    assert "44.00" in page and "34.00" in page  # the credit, then what is left to spend
    assert "Valid until" in page
    assert "Usual time to arrive" not in page


def test_a_refund_to_the_card_shows_no_credit(client):
    refund = make_refund(order=customer_order(locale="en"), amount_minor=4000)
    page = client.get(f"/r/{refund.status_token}/", {"lang": "en"}).content.decode()
    assert "store credit" not in page.lower()
