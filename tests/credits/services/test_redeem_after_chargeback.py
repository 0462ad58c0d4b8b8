"""Attack: spend a store credit after the payment it refunds was charged back.

The customer asked for store credit, then disputed the card payment and got
the money back from their bank. Spending the credit afterwards would pay the
same money out a second time — the credit must stop where the payment did.
"""

from __future__ import annotations

import pytest

from core.errors import ERR_CHARGED_BACK, ERR_VOIDED, DomainError
from credits.services.redeem import WITHDRAWN_PAYMENT_REFUSALS
from refunds.enums import PAYMENT_WITHDRAWN_FAILURE_CODES, PaymentStatus
from refunds.models import Payment
from tests.credits.factories import issued_credit
from tests.credits.services.test_redeem import redeem

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("status", "code"), [(PaymentStatus.CHARGED_BACK, ERR_CHARGED_BACK), (PaymentStatus.VOIDED, ERR_VOIDED)]
)
def test_a_credit_of_a_withdrawn_payment_is_not_spent(status, code):
    credit = issued_credit(amount_minor=5000)
    Payment.objects.filter(pk=credit.refund.payment_id).update(status=status)

    with pytest.raises(DomainError) as refused:
        redeem(credit, 1000, "after-dispute")

    assert refused.value.code == code
    credit.refresh_from_db()
    assert credit.balance_minor == credit.amount_minor
    assert not credit.redemptions.exists()


def test_a_retry_of_a_redemption_made_before_the_chargeback_still_answers_it():
    credit = issued_credit(amount_minor=5000)
    first = redeem(credit, 1000, "before-dispute")
    Payment.objects.filter(pk=credit.refund.payment_id).update(status=PaymentStatus.CHARGED_BACK)

    again = redeem(credit, 1000, "before-dispute")

    assert again.redemption.pk == first.redemption.pk and not again.created


def test_the_credits_list_of_withdrawn_statuses_is_the_refund_domains():
    assert set(WITHDRAWN_PAYMENT_REFUSALS) == set(PAYMENT_WITHDRAWN_FAILURE_CODES)
