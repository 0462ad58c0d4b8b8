"""Needs action (issue 12): who sees what, who may act, and every failure said in words."""

from __future__ import annotations

import pytest
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent
from console.presenters.needs_action import needs_action_counts
from providers.base import FailureCode
from refunds.enums import PAYMENT_WITHDRAWN_FAILURE_CODES, OutboxStatus, PayoutStatus, RefundState, Role, WebhookStatus
from refunds.failures import FAILURE_TEXTS
from refunds.models import OutboxMessage, PayoutTask, WebhookEvent
from tests.refunds.factories import captured_order, make_refund, move_refund, submitted_refund

pytestmark = pytest.mark.django_db
S = RefundState


def failed_refund(code: str = "lost_or_stolen_card", *, retryable: bool = False):
    return move_refund(submitted_refund(), S.FAILED, changes={"failure_code": code, "failure_retryable": retryable})


def held_event() -> WebhookEvent:
    return WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_held",
        event_type="refund.updated",
        payload={},
        status=WebhookStatus.HELD,
        note="held: amount 40.00 USD of provider refund re_x is not 45.00 USD of refund rf_y",
    )


def test_every_failure_code_the_desk_knows_has_a_sentence():
    known = {code.value for code in FailureCode} | set(PAYMENT_WITHDRAWN_FAILURE_CODES.values())
    assert known <= set(FAILURE_TEXTS)


def test_the_navigation_counts_every_kind_of_entry(agent_client):
    failed_refund()
    dead = submitted_refund()
    OutboxMessage.objects.create(
        refund=dead, idempotency_key="k-dead", status=OutboxStatus.DEAD, dead_at=timezone.now()
    )
    make_refund(order=captured_order(provider="manual"), amount_minor=500)
    held_event()

    assert needs_action_counts()["total"] == 4
    page = agent_client.get("/console/").content.decode()
    assert 'id="nav-needs-action"' in page
    assert 'Needs action <span class="count count-flag">4</span>' in page


def test_an_agent_reads_the_failure_in_words_without_buttons(agent_client):
    refund = failed_refund()

    page = agent_client.get("/console/needs-action/").content.decode()
    card = agent_client.get(f"/console/refunds/{refund.public_id}/").content.decode()

    for html in (page, card):
        assert "reported lost or stolen" in html
        assert "A senior agent or finance can retry or cancel this refund." in html
        assert "Cancel and notify the customer" not in html


def test_an_agent_cannot_post_the_actions(agent_client):
    refund = failed_refund("insufficient_funds", retryable=True)

    for path in ("retry", "cancel-failed"):
        assert agent_client.post(f"/console/refunds/{refund.public_id}/{path}/").status_code == 403
    refund.refresh_from_db()
    assert refund.state == S.FAILED


def test_a_senior_cancels_and_comes_back_to_the_page_it_was_sent_from(login):
    senior = login("senior", Role.SENIOR_AGENT)
    refund = failed_refund()
    card = f"/console/refunds/{refund.public_id}/"

    answer = senior.post(f"{card}cancel-failed/", {"note": "paid by transfer", "next": card})

    assert answer.status_code == 302 and answer["Location"] == card
    refund.refresh_from_db()
    assert refund.state == S.CANCELED


def test_the_next_parameter_never_leaves_the_site(login):
    senior = login("senior", Role.SENIOR_AGENT)
    refund = failed_refund()

    answer = senior.post(f"/console/refunds/{refund.public_id}/cancel-failed/", {"next": "https://evil.example/"})

    assert answer["Location"] == "/console/needs-action/"


def test_finance_pays_out_manually_and_replays_a_dead_letter(login):
    finance = login("finance", Role.FINANCE)
    manual = make_refund(order=captured_order(provider="manual"), amount_minor=500)
    dead = submitted_refund()
    message = OutboxMessage.objects.create(
        refund=dead, idempotency_key="k-dead", status=OutboxStatus.DEAD, dead_at=timezone.now()
    )

    finance.post(f"/console/refunds/{manual.public_id}/payout/", {"reference": "BANK-42"})
    finance.post(f"/console/needs-action/outbox/{message.pk}/replay/")

    manual.refresh_from_db()
    assert manual.state == S.COMPLETED
    assert PayoutTask.objects.get(refund=manual).status == PayoutStatus.PAID
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING


def test_finance_marks_a_held_event_reviewed_and_it_leaves_needs_action(login):
    finance = login("finance", Role.FINANCE)
    event = held_event()

    finance.post(f"/console/needs-action/webhooks/{event.pk}/review/", {"note": "checked: a test event"})

    event.refresh_from_db()
    assert (event.status, event.review_note, event.reviewed_by) == (
        WebhookStatus.HELD,
        "checked: a test event",
        finance.user,
    )
    assert needs_action_counts()["held_webhook"] == 0
    assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_REVIEWED, note="checked: a test event").exists()


def test_an_agent_cannot_review_a_held_event(agent_client):
    event = held_event()

    assert agent_client.post(f"/console/needs-action/webhooks/{event.pk}/review/", {"note": "x"}).status_code == 403
    event.refresh_from_db()
    assert event.reviewed_at is None
