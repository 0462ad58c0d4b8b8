"""A high-value refund is approved from Slack only through a confirmation, as the console asks its tick.

The attack first: two single taps on Approve approved a 2,500.00 USD refund
that the console would have refused without the high-value confirmation.
Now a tap by someone who could approve opens the confirmation modal (in the
request, within Slack's 3 seconds); its submission approves. The Approve
task refuses a high-value approval of its own (defence in depth), so no
path approves high value unconfirmed.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from integrations.models import InteractionStatus, SlackInteraction
from integrations.slack import text
from integrations.slack.decisions import process_interaction
from integrations.slack.modals import APPROVE_CONFIRM_LABEL, CONFIRM_VALUE
from refunds.enums import DecisionKind, Reason, RefundState, Role
from refunds.models import Refund
from refunds.services.decide import refund_edit
from refunds.services.policy import high_value_threshold_minor
from tests.integrations.slack.conftest import URL, card_click, form, person, post_card, review_refund, sign
from tests.refunds.factories import agent, captured_order, make_refund, requester
from tests.support.slack_sim import APPROVALS_CHANNEL

pytestmark = pytest.mark.django_db(transaction=True)

HIGH = 250000  # 2,500.00 USD: above the policy's 2,000.00 high-value threshold


def fresh(refund: Refund) -> Refund:
    return Refund.objects.get(pk=refund.pk)


def approvals(refund: Refund) -> int:
    return refund.decisions.filter(kind=DecisionKind.APPROVE).count()


def told(sim, slack_user: str) -> list[str]:
    return [e["text"] for e in sim.ephemerals(APPROVALS_CHANNEL, slack_user)]


def high_value_refund() -> Refund:
    refund = review_refund(amount_minor=HIGH, order_amount=500000)
    threshold = high_value_threshold_minor(refund.policy_version, "USD")
    assert threshold is not None and refund.amount_minor > threshold
    return refund


def signed(signed_post, sim, payload: dict):
    body = form(payload)
    return signed_post(body, sign(body, secret=sim.signing_secret))


def test_attack_two_single_taps_do_not_approve_a_high_value_refund(slack_settings, signed_post, tasks):
    person(slack_settings, "sam", Role.SENIOR_AGENT)
    person(slack_settings, "sue", Role.SENIOR_AGENT)
    refund = high_value_refund()
    assert refund.approvals_required == 2
    for user in ("USAM", "USUE"):
        assert signed(signed_post, slack_settings, card_click(fresh(refund), user=user)).status_code == 200
        tasks.drain()
    refund = fresh(refund)
    assert refund.state == RefundState.REQUESTED
    assert approvals(refund) == 0


def test_a_tap_opens_the_confirmation_and_its_ticked_submission_approves(slack_app, tasks):
    sam = person(slack_app, "sam", Role.SENIOR_AGENT)
    refund = high_value_refund()
    ts = post_card(refund)
    answer = slack_app.click("USAM", APPROVALS_CHANNEL, ts, "approve")
    assert answer["status"] == 200, answer
    assert tasks.names() == []  # nothing for Celery to approve
    view = slack_app.open_view("USAM")
    assert view is not None
    modal = view["view"]
    assert (modal["callback_id"], modal["submit"]["text"]) == ("refund_approve_confirm", "Approve")
    meta = json.loads(modal["private_metadata"])
    assert meta == {"refund": refund.public_id, "version": refund.version, "channel": APPROVALS_CHANNEL, "ts": ts}
    shown = json.dumps(modal["blocks"])
    assert "2,500.00 USD" in shown and "2,000.00 USD" in shown  # the amount and the threshold
    assert refund.order.customer.name in shown and refund.policy_rule in shown  # the customer and the rule
    [confirm] = [b for b in modal["blocks"] if b.get("block_id") == "confirm"]
    assert confirm["optional"] is False and confirm["element"]["type"] == "checkboxes"
    assert confirm["element"]["options"][0]["text"]["text"] == APPROVE_CONFIRM_LABEL
    assert fresh(refund).state == RefundState.REQUESTED and approvals(refund) == 0

    done = slack_app.submit(view["id"], "USAM", {"confirm": {"confirm": [CONFIRM_VALUE]}})
    assert done["status"] == 200 and done["view_state"] == "closed", done
    refund = fresh(refund)
    decision = refund.decisions.get(kind=DecisionKind.APPROVE)
    assert (refund.state, decision.actor) == (RefundState.REQUESTED, sam)  # 1 of 2: high value needs two seniors
    assert refund.audit_events.get(action="refund.approval_recorded").actor_label == "sam (Slack USAM)"
    tasks.drain()
    assert told(slack_app, "USAM") == [
        "Your approval is recorded (1 of 2). A different senior agent must give the next one."
    ]


def test_an_unticked_submission_is_refused_on_the_box(slack_app, tasks):
    person(slack_app, "sam", Role.SENIOR_AGENT)
    refund = high_value_refund()
    ts = post_card(refund)
    slack_app.click("USAM", APPROVALS_CHANNEL, ts, "approve")
    view = slack_app.open_view("USAM")
    # Slack's client will not send a required box unticked; a submission that claims to is refused by the app.
    payload = {
        "type": "view_submission",
        "user": {"id": "USAM", "team_id": "T0SIM"},
        "team": {"id": "T0SIM"},
        "view": {
            **view["view"],
            "state": {"values": {"confirm": {"confirm": {"type": "checkboxes", "selected_options": []}}}},
        },
    }
    body = form(payload)
    answer = (
        Client()
        .post(
            URL,
            data=body,
            content_type="application/x-www-form-urlencoded",
            **sign(body, secret=slack_app.signing_secret),
        )
        .json()
    )
    assert answer == {"response_action": "errors", "errors": {"confirm": text.HIGH_VALUE_UNCONFIRMED}}
    assert approvals(fresh(refund)) == 0


def test_a_refund_changed_while_the_confirmation_was_open_is_not_approved(slack_app, tasks):
    person(slack_app, "sam", Role.SENIOR_AGENT)
    refund = high_value_refund()
    ts = post_card(refund)
    slack_app.click("USAM", APPROVALS_CHANNEL, ts, "approve")
    view = slack_app.open_view("USAM")
    refund_edit(refund_id=refund.pk, actor=agent(), amount_minor=HIGH + 100, reply=refund.draft_reply)
    done = slack_app.submit(view["id"], "USAM", {"confirm": {"confirm": [CONFIRM_VALUE]}})
    assert done["view_state"] == "open" and done["errors"] == {"confirm": text.STALE_CARD}
    assert approvals(fresh(refund)) == 0


def test_someone_who_could_not_approve_gets_no_confirmation_but_the_services_refusal(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)  # not a senior: high value needs two
    refund = high_value_refund()
    ts = post_card(refund)
    slack_app.click("UALICE", APPROVALS_CHANNEL, ts, "approve")
    assert slack_app.open_view("UALICE") is None
    assert tasks.names() == ["integrations.slack.process_interaction"]
    tasks.drain()
    assert approvals(fresh(refund)) == 0
    [words] = told(slack_app, "UALICE")
    assert "senior" in words.lower()


def test_the_approve_task_itself_refuses_high_value_without_the_confirmation(slack_settings, signed_post, tasks):
    """Defence in depth: a plain tap's task (queued by any path) never approves high value."""
    person(slack_settings, "sam", Role.SENIOR_AGENT)
    refund = high_value_refund()
    assert signed(signed_post, slack_settings, card_click(refund, user="USAM")).status_code == 200
    row = SlackInteraction.objects.get()
    assert row.status == InteractionStatus.FAILED  # the modal could not open: the hand-made trigger id is unknown
    SlackInteraction.objects.filter(pk=row.pk).update(status=InteractionStatus.RECEIVED, outcome="")
    tasks.queued.clear()
    tasks.ran.clear()
    assert process_interaction.apply(kwargs={"interaction_id": row.pk}).get() == InteractionStatus.REFUSED
    assert approvals(fresh(refund)) == 0
    assert SlackInteraction.objects.get().outcome == text.HIGH_VALUE_CONFIRM_IN_DIALOG
    tasks.drain()
    assert text.HIGH_VALUE_CONFIRM_IN_DIALOG in told(slack_settings, "USAM")


def test_a_currency_without_limits_is_all_high_value(slack_app, tasks):
    """No limits for the currency: threshold 0, so every amount asks for the confirmation (as in the console)."""
    person(slack_app, "sam", Role.SENIOR_AGENT)
    order = captured_order(amount_minor=100000, currency="CHF")
    refund = make_refund(order=order, amount_minor=500, reason=Reason.GOODWILL, actor=requester())
    assert high_value_threshold_minor(refund.policy_version, refund.currency) == 0
    ts = post_card(refund)
    slack_app.click("USAM", APPROVALS_CHANNEL, ts, "approve")
    view = slack_app.open_view("USAM")
    assert view is not None and view["view"]["callback_id"] == "refund_approve_confirm"
    assert tasks.names() == []
