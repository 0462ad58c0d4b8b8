"""The card's reply: a rendered preview of the template, edits that may not contradict the amount, and a
decline with a customer message and an internal rationale (issue 12, items 1 and 2)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail

from core.errors import CATALOG, ERR_REPLY_AMOUNT_MISMATCH
from notifications.outbox import deliver_email
from refunds.enums import DecisionKind, RefundState, Role
from refunds.models import Decision, Refund
from refunds.replies import DEFAULT_REPLY_TEMPLATES
from tests.console.conftest import review_refund
from tests.console.test_card import card_url, seen
from tests.refunds.factories import make_refund, requester
from tests.support.customer_states import customer_order

pytestmark = pytest.mark.django_db

RATIONALE = "customer gaming the window"


@pytest.fixture
def emails_sent_inline():
    def run_now(*, kwargs, **options):
        return deliver_email.apply(kwargs=kwargs)

    with mock.patch.object(deliver_email, "apply_async", side_effect=run_now):
        yield


def test_the_card_previews_the_reply_as_the_customer_reads_it(agent_client):
    refund = review_refund(amount_minor=500)
    html = agent_client.get(card_url(refund)).content.decode()
    assert f"we have approved your refund of $5.00 for order {refund.order.order_id}" in html
    assert "{amount}" in html  # the template, behind its toggle


def test_save_and_approve_after_an_amount_edit_previews_and_sends_the_new_amount(
    login, emails_sent_inline, django_capture_on_commit_callbacks
):
    senior = login("senior", Role.SENIOR_AGENT)
    refund = review_refund(amount_minor=500)
    with django_capture_on_commit_callbacks(execute=True):
        response = senior.post(
            card_url(refund, "edit"),
            {**seen(refund), "reply": refund.draft_reply, "amount": "4.00", "action": "approve"},
        )
    assert response.status_code == 302
    html = senior.get(card_url(refund)).content.decode()
    assert "approved your refund of $4.00" in html and "$5.00" not in html
    (email,) = mail.outbox
    assert "approved your refund of $4.00" in email.body and "5.00" not in email.body


def test_an_edit_stating_another_amount_is_refused_on_the_reply_field(agent_client):
    refund = review_refund(amount_minor=500)
    response = agent_client.post(
        card_url(refund, "edit"),
        {**seen(refund), "reply": "We approved your refund of 5.00 USD.", "amount": "4.00", "action": "save"},
    )
    assert response.status_code == CATALOG[ERR_REPLY_AMOUNT_MISMATCH][0]
    html = response.content.decode()
    assert "Write {amount} where the amount goes" in html
    assert 'id="edit_reply"' in html and "aria-invalid" in html
    assert Refund.objects.get(pk=refund.pk).amount_minor == 500


def test_the_german_customers_card_drafts_in_german(agent_client):
    refund = make_refund(
        order=customer_order(locale="de", currency="EUR"), amount_minor=4500, reason="goodwill", actor=requester()
    )
    html = agent_client.get(card_url(refund)).content.decode()
    assert "Gute Nachricht: Wir haben Ihre Erstattung über 45,00" in html
    # The decline form offers the policy's German decline text.
    assert DEFAULT_REPLY_TEMPLATES["de"]["decline"] in html


def test_decline_sends_the_message_and_keeps_the_rationale_for_staff(
    agent_client, emails_sent_inline, django_capture_on_commit_callbacks
):
    refund = review_refund(amount_minor=500)
    message = "We cannot refund {amount}: the lamp was a final-sale item."
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(card_url(refund, "decline"), {"note": message, "rationale": RATIONALE})
    assert response.status_code == 302
    assert Refund.objects.get(pk=refund.pk).state == RefundState.DENIED
    assert Decision.objects.get(refund=refund, kind=DecisionKind.DENY).rationale == RATIONALE
    (email,) = mail.outbox
    assert "We cannot refund $5.00: the lamp was a final-sale item." in email.body
    assert RATIONALE not in email.body and RATIONALE not in email.alternatives[0][0]
    html = agent_client.get(card_url(refund)).content.decode()
    assert RATIONALE in html and "We cannot refund $5.00" in html
    status_page = agent_client.get(refund.status_url).content.decode()
    assert "We cannot refund $5.00" in status_page and RATIONALE not in status_page


def test_the_timeline_shows_the_rationale_to_staff(agent_client):
    refund = review_refund(amount_minor=500)
    agent_client.post(card_url(refund, "decline"), {"note": "Final-sale item.", "rationale": RATIONALE})
    html = agent_client.get(card_url(refund, "timeline")).content.decode()
    assert "Internal rationale" in html and RATIONALE in html
