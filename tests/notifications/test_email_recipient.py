"""Who a refund's emails go to: the address it was requested under (issue 10 item 4).

An address pushed after the request applies to later refunds; an older
refund's emails — which carry its status link, a bearer secret — never go to it.
"""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail

from notifications.messages import MSG_DECLINED, MSG_REQUEST_ACCEPTED
from notifications.models import CustomerEmail
from notifications.outbox import deliver_email, email_deliver
from refunds.enums import Reason
from refunds.models import Customer
from refunds.services.decide import refund_deny
from tests.refunds.factories import agent, make_refund
from tests.support.customer_states import compile_catalogues, customer_order

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module", autouse=True)
def _catalogues() -> None:
    compile_catalogues()


@pytest.fixture(autouse=True)
def _emails_not_queued():
    # Sent by calling email_deliver below; the queued tasks are not the subject.
    with mock.patch.object(deliver_email, "apply_async"):
        yield


def _email(refund, message_id: str) -> int:
    return CustomerEmail.objects.get(refund=refund, message_id=message_id).pk


def test_an_older_refunds_emails_go_to_the_address_it_was_requested_under():
    order = customer_order(email="jane.doe@example.com")
    older = make_refund(order=order, amount_minor=1000, reason=Reason.GOODWILL)
    Customer.objects.filter(pk=order.customer_id).update(email="mallory@attacker.example")
    refund_deny(refund_id=older.pk, actor=agent(), note="Delivered and signed for.")
    assert email_deliver(email_id=_email(older, MSG_DECLINED)) == "sent"
    assert [m.to for m in mail.outbox] == [["jane.doe@example.com"]]


def test_a_refund_requested_after_the_change_goes_to_the_new_address():
    order = customer_order(email="jane.doe@example.com")
    Customer.objects.filter(pk=order.customer_id).update(email="jane@new.example")
    order.customer.refresh_from_db()
    newer = make_refund(order=order, amount_minor=1000, reason=Reason.GOODWILL)
    assert email_deliver(email_id=_email(newer, MSG_REQUEST_ACCEPTED)) == "sent"
    assert [m.to for m in mail.outbox] == [["jane@new.example"]]
