"""The card of a store-credit refund: what approving issues, then the credit's balance — never the code (issue 15)."""

import pytest

from credits.models import StoreCredit
from credits.services.redeem import credit_redeem
from refunds.enums import Reason
from tests.console.test_card import card_url
from tests.credits.factories import store_credit_policy, store_credit_refund
from tests.refunds.factories import merchant_system

pytestmark = pytest.mark.django_db


def test_a_refund_under_review_says_approving_issues_credit_without_a_provider(agent_client):
    store_credit_policy(bonus_percent=10, expiry_days=90)
    refund = store_credit_refund(amount_minor=25000, order_amount=100000, reason=Reason.GOODWILL)
    page = agent_client.get(card_url(refund)).content.decode()
    assert "Store credit" in page and "issued on approval, no provider: bonus 10%, valid 90 days" in page


def test_an_issued_credit_shows_its_balance_and_only_a_masked_code(agent_client):
    store_credit_policy(bonus_percent=10)
    refund = store_credit_refund(amount_minor=5000)
    credit = StoreCredit.objects.get(refund=refund)
    credit_redeem(
        code=credit.code,
        merchant_id=credit.merchant_id,
        amount_minor=1500,
        currency="USD",
        idempotency_key="a",
        actor=merchant_system(),
    )
    page = agent_client.get(card_url(refund)).content.decode()
    assert credit.code_masked in page and credit.code not in page
    assert credit.code.replace("-", "") not in page
    assert "40.00 USD" in page  # 55.00 issued, 15.00 spent
    assert "1 redemption" in page
