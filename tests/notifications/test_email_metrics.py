"""`notification_email_failures_total{kind}` (each failed send) and `notification_emails_failed` (given up, DB)."""

from __future__ import annotations

import smtplib
from unittest import mock

import pytest
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from notifications.messages import MSG_APPROVED
from notifications.models import CustomerEmail, EmailStatus
from notifications.outbox import deliver_email, email_deliver, email_replay
from refunds.enums import Reason
from refunds.services.decide import refund_approve
from tests.refunds.factories import agent, make_refund
from tests.support.customer_states import customer_order
from tests.support.samples import Delta, scraped_value

pytestmark = pytest.mark.django_db


class RefusingBackend(LocmemBackend):
    """Every send fails with `error`."""

    error: Exception = smtplib.SMTPServerDisconnected("connection lost")

    def send_messages(self, messages):
        raise type(self).error


@pytest.fixture
def refusing(settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    yield RefusingBackend
    RefusingBackend.error = smtplib.SMTPServerDisconnected("connection lost")


def approval_email() -> CustomerEmail:
    refund = make_refund(order=customer_order(), amount_minor=4250, reason=Reason.GOODWILL)
    refund_approve(refund_id=refund.pk, actor=agent("approver"))
    return CustomerEmail.objects.get(refund=refund, message_id=MSG_APPROVED)


def test_each_failed_send_is_counted_by_kind_a_transient_one_too(refusing):
    failures = Delta("notification_email_failures_total", kind=MSG_APPROVED)
    email = approval_email()
    with mock.patch.object(deliver_email, "apply_async"):  # the retry's countdown task is not run here
        assert email_deliver(email_id=email.pk) == "retry"
    assert failures.now() == 1
    assert scraped_value("notification_emails_failed") == 0  # not given up: it will be retried


def test_an_email_given_up_is_in_the_gauge_until_it_is_replayed(refusing):
    refusing.error = smtplib.SMTPRecipientsRefused({"someone@example.com": (550, b"no such user")})
    failures = Delta("notification_email_failures_total", kind=MSG_APPROVED)
    email = approval_email()
    assert email_deliver(email_id=email.pk) == "failed"
    assert failures.now() == 1
    assert CustomerEmail.objects.get(pk=email.pk).status == EmailStatus.FAILED
    assert scraped_value("notification_emails_failed") == 1
    with mock.patch.object(deliver_email, "apply_async"):
        email_replay(email_id=email.pk)
    assert scraped_value("notification_emails_failed") == 0
