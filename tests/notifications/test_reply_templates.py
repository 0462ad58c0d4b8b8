"""The drafted reply is a template rendered from the refund when the email is built (issue 12, items 1-2)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail

from notifications.outbox import deliver_email
from refunds.enums import Reason, Role
from refunds.services.decide import refund_approve, refund_edit
from tests.refunds.factories import agent, make_refund
from tests.support.customer_states import compile_catalogues, customer_order

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module", autouse=True)
def _catalogues() -> None:
    compile_catalogues()


@pytest.fixture(autouse=True)
def _emails_run_inline():
    def run_now(*, kwargs, **options):
        return deliver_email.apply(kwargs=kwargs)

    with mock.patch.object(deliver_email, "apply_async", side_effect=run_now):
        yield


def _reply_section(body: str) -> str:
    """The text under "Message from our team:", up to the facts block."""
    return body.split("Message from our team:", 1)[1].split("Amount:", 1)[0]


def test_an_amount_edited_before_approval_is_the_amount_the_reply_states(django_capture_on_commit_callbacks):
    # The senior's Edit → Save and approve: the reply field is posted back as shown, the amount lowered.
    refund = make_refund(order=customer_order(), amount_minor=500, reason=Reason.GOODWILL)
    senior = agent("senior", role=Role.SENIOR_AGENT)
    refund_edit(refund_id=refund.pk, actor=senior, amount_minor=400, reply=refund.draft_reply)
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=senior)
    (email,) = mail.outbox
    reply = _reply_section(email.body)
    assert "$4.00" in reply
    assert "5.00" not in email.body and "5.00" not in email.alternatives[0][0]
