"""The customer of a store-credit refund gets one email, with the code, the amount and the expiry (issue 15)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail

from credits.models import StoreCredit
from notifications.messages import MSG_COMPLETED_STORE_CREDIT
from notifications.models import CustomerEmail
from notifications.outbox import deliver_email
from refunds.enums import RefundInstrument
from tests.credits.factories import store_credit_policy
from tests.refunds.factories import make_refund
from tests.support.customer_states import compile_catalogues, customer_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module", autouse=True)
def _catalogues() -> None:
    compile_catalogues()


@pytest.fixture(autouse=True)
def _emails_run_inline():
    def run_now(*, kwargs, **options):
        return deliver_email.apply(kwargs=kwargs)

    with mock.patch.object(deliver_email, "apply_async", side_effect=run_now):
        yield


def test_an_auto_approved_store_credit_refund_sends_one_email_with_the_code():
    store_credit_policy(bonus_percent=10, expiry_days=30)
    refund = make_refund(order=customer_order(locale="en"), amount_minor=4000, instrument=RefundInstrument.STORE_CREDIT)
    credit = StoreCredit.objects.get(refund=refund)

    assert list(CustomerEmail.objects.filter(refund=refund).values_list("message_id", flat=True)) == [
        MSG_COMPLETED_STORE_CREDIT
    ]
    (email,) = mail.outbox
    assert email.subject.startswith("Your store credit is ready")
    html = email.alternatives[0][0]
    for body in (email.body, html):
        assert credit.code in body
        assert "44.00" in body and "4.00" in body  # the credit and its bonus
        assert "Valid until" in body
    assert "original payment method" not in email.body


def test_a_credit_that_never_expires_says_so():
    store_credit_policy(expiry_days=None)
    make_refund(order=customer_order(locale="en"), amount_minor=4000, instrument=RefundInstrument.STORE_CREDIT)
    (email,) = mail.outbox
    assert "This credit does not expire." in email.body and "Valid until" not in email.body
