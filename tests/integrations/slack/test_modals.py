"""Edit and Decline from the Slack card: the modal opens for who may, its submission decided under the console's rules.

Through the simulator and the live app. Edit is "save and approve": the
edit and the approval commit together or not at all. Refusals on
submission come back into the modal (`response_action: errors`) on the
field they concern; the refund is untouched.
"""

from __future__ import annotations

import json

import pytest
from django.core import mail

from audit.models import AuditEvent
from core.actor import Actor
from core.errors import CATALOG, ERR_EXCEEDS_REMAINING, DomainError
from integrations.models import InteractionStatus, SlackInteraction
from integrations.slack import text
from notifications.outbox import deliver_email
from notifications.replies import refund_language
from refunds.enums import DecisionKind, RefundState, Role
from refunds.models import Refund
from refunds.replies import reply_check_amounts, reply_check_placeholders
from refunds.services.decide import refund_edit
from refunds.services.policy import policy_decline_draft
from tests.integrations.slack.conftest import person, post_card, review_refund
from tests.refunds.factories import agent
from tests.support.slack_sim import APPROVALS_CHANNEL

pytestmark = pytest.mark.django_db(transaction=True)


def message(code: str) -> str:
    return str(CATALOG[code][2])


def refusal(check) -> str:
    """The words of the refusal `check` raises: the service's own, which the modal must show."""
    with pytest.raises(DomainError) as raised:
        check()
    return raised.value.message


def fresh(refund: Refund) -> Refund:
    return Refund.objects.get(pk=refund.pk)


def open_modal(sim, slack_user: str, refund: Refund, action: str) -> dict:
    """Tap `action` on the refund's card; the modal the person then has on screen (or None)."""
    ts = post_card(refund)
    answer = sim.click(slack_user, APPROVALS_CHANNEL, ts, action)
    assert answer["status"] == 200, answer
    return sim.open_view(slack_user)


def blocks(view: dict) -> dict[str, dict]:
    return {block["block_id"]: block for block in view["view"]["blocks"]}


def told(sim, slack_user: str) -> list[str]:
    return [e["text"] for e in sim.ephemerals(APPROVALS_CHANNEL, slack_user)]


# --- opening ----------------------------------------------------------------------------


def test_edit_opens_a_modal_with_the_amount_and_the_reply_as_stored(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund(amount_minor=5000, order_amount=20000)
    view = open_modal(slack_app, "UALICE", refund, "edit")
    assert view is not None
    modal = view["view"]
    assert (modal["callback_id"], modal["submit"]["text"]) == ("refund_edit", "Save and approve")
    assert json.loads(modal["private_metadata"]) == {
        "refund": refund.public_id,
        "version": refund.version,
        "channel": APPROVALS_CHANNEL,
        "ts": json.loads(modal["private_metadata"])["ts"],
    }
    fields = blocks(view)
    assert fields["amount"]["label"]["text"] == "Amount (USD)"
    assert fields["amount"]["element"]["initial_value"] == "50.00"
    assert "200.00 USD" in fields["amount"]["hint"]["text"]  # what it may be raised to
    assert fields["reply"]["element"]["initial_value"] == refund.draft_reply
    assert fields["reply"]["element"]["multiline"] is True
    assert "{amount}" in fields["reply"]["hint"]["text"] and "{customer_name}" in fields["reply"]["hint"]["text"]
    assert fields["note"]["optional"] is True
    assert SlackInteraction.objects.get().status == InteractionStatus.DONE


def test_decline_opens_a_modal_with_the_policys_decline_draft_and_the_internal_rationale(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund()
    view = open_modal(slack_app, "UALICE", refund, "decline")
    assert view["view"]["callback_id"] == "refund_decline"
    fields = blocks(view)
    draft = policy_decline_draft(refund, language=refund_language(refund))
    assert draft and fields["reason"]["element"]["initial_value"] == draft
    assert fields["reason"].get("optional") is False
    assert fields["rationale"]["label"]["text"] == "Internal rationale (staff only, never sent)"
    assert fields["rationale"]["optional"] is True


def test_the_requester_tapping_edit_gets_no_modal_and_is_told_why(slack_app, tasks):
    maker = person(slack_app, "maker", Role.AGENT)
    refund = review_refund(by=Actor.for_user(maker))
    assert open_modal(slack_app, "UMAKER", refund, "edit") is None
    tasks.drain()
    assert told(slack_app, "UMAKER") == ["You requested this refund, so someone else must edit it (maker-checker)."]
    assert slack_app.calls("views.open") == []


def test_an_agent_who_could_not_give_the_approval_gets_no_edit_modal(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund(amount_minor=25000)
    assert open_modal(slack_app, "UALICE", refund, "edit") is None
    tasks.drain()
    assert told(slack_app, "UALICE") == ["This refund needs approvals from senior agents."]


def test_an_unmapped_user_gets_no_decline_modal(slack_app, tasks):
    slack_app.add_user("UNEW", "stranger@example.com", "stranger")
    refund = review_refund()
    assert open_modal(slack_app, "UNEW", refund, "decline") is None
    tasks.drain()
    assert len(told(slack_app, "UNEW")) == 1
    assert SlackInteraction.objects.get().status == InteractionStatus.REFUSED


def test_a_reader_without_the_decide_role_gets_no_decline_modal(slack_app, tasks):
    person(slack_app, "fiona", Role.FINANCE)
    refund = review_refund()
    assert open_modal(slack_app, "UFIONA", refund, "decline") is None
    tasks.drain()
    assert told(slack_app, "UFIONA") == [message("ERR.AUTHZ.role")]


def test_edit_on_a_stale_card_opens_nothing(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund(amount_minor=5000)
    ts = post_card(refund)
    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=4500)
    slack_app.click("UALICE", APPROVALS_CHANNEL, ts, "edit")
    assert slack_app.open_view("UALICE") is None
    tasks.drain()
    assert told(slack_app, "UALICE") == [text.STALE_CARD]


def test_slack_failing_to_open_the_modal_is_told_and_decides_nothing(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund()
    slack_app.fault("views.open", 500)
    assert open_modal(slack_app, "UALICE", refund, "edit") is None
    tasks.drain()
    assert told(slack_app, "UALICE") == [text.MODAL_NOT_OPENED]
    assert SlackInteraction.objects.get().status == InteractionStatus.FAILED


# --- submitting Edit ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "error"),
    [
        pytest.param({"amount": "forty"}, "amount", "Enter an amount such as 45.00.", id="not-an-amount"),
        pytest.param({"amount": "-5"}, "amount", "The amount must be more than zero.", id="negative"),
        pytest.param({"amount": "40.005"}, "amount", "USD amounts have 2 decimal places at most.", id="precision"),
        pytest.param({"amount": "1500.00"}, "amount", message(ERR_EXCEEDS_REMAINING), id="above-remaining"),
        pytest.param(
            {"reply": "We refund you 12.34 USD today."},
            "reply",
            refusal(lambda: reply_check_amounts("We refund you 12.34 USD today.", amount_minor=5000, currency="USD")),
            id="wrong-amount",
        ),
        pytest.param(
            {"reply": "Dear {customer}, done."},
            "reply",
            refusal(lambda: reply_check_placeholders("Dear {customer}, done.")),
            id="placeholder",
        ),
    ],
)
def test_edit_refusals_come_back_into_the_modal_and_nothing_changes(slack_app, tasks, values, field, error):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund(amount_minor=5000, order_amount=100000)
    view = open_modal(slack_app, "UALICE", refund, "edit")
    answer = slack_app.submit(view["id"], "UALICE", {key: {key: value} for key, value in values.items()})
    assert answer["status"] == 200
    assert answer["body"]["response_action"] == "errors"
    assert answer["errors"] == {field: error}
    assert answer["view_state"] == "open"
    after = fresh(refund)
    assert (after.state, after.amount_minor, after.version) == (RefundState.REQUESTED, 5000, refund.version)
    assert not after.decisions.exists()


def test_edit_and_approve_from_the_modal(slack_app, tasks):
    alice = person(slack_app, "alice", Role.AGENT)
    refund = review_refund(amount_minor=5000)
    view = open_modal(slack_app, "UALICE", refund, "edit")
    answer = slack_app.submit(
        view["id"],
        "UALICE",
        {"amount": {"amount": "40.00"}, "reply": {"reply": "We refund {amount} today."}, "note": {"note": "Partial"}},
    )
    assert answer["body"] == {"response_action": "clear"}
    assert answer["view_state"] == "closed"
    after = fresh(refund)
    assert (after.state, after.amount_minor, after.draft_reply) == (
        RefundState.APPROVED,
        4000,
        "We refund {amount} today.",
    )
    edit = after.decisions.get(kind=DecisionKind.EDIT)
    assert (edit.actor, edit.amount_before_minor, edit.amount_after_minor) == (alice, 5000, 4000)
    for action in ("refund.edited", "refund.approved"):
        event = AuditEvent.objects.get(refund=refund, action=action)
        assert (event.channel, event.actor_label) == ("slack", "alice (Slack UALICE)")
    tasks.drain()
    assert told(slack_app, "UALICE") == ["Approved 40.00 USD. The customer gets the drafted reply."]


def test_an_amount_edit_whose_approval_is_refused_is_rolled_back(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund(amount_minor=5000)
    view = open_modal(slack_app, "UALICE", refund, "edit")
    # 250.00 of goodwill needs two seniors: the edit alone would be allowed, its approval is not.
    answer = slack_app.submit(view["id"], "UALICE", {"amount": {"amount": "250.00"}})
    assert answer["errors"] == {"amount": "This refund needs approvals from senior agents."}
    after = fresh(refund)
    assert (after.amount_minor, after.approvals_required, after.version) == (5000, 1, refund.version)
    assert not after.decisions.exists()
    assert not AuditEvent.objects.filter(refund=refund, action="refund.edited").exists()


def test_a_refund_changed_while_the_modal_was_open_is_refused_in_the_modal(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund(amount_minor=5000)
    view = open_modal(slack_app, "UALICE", refund, "edit")
    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=4500)
    answer = slack_app.submit(view["id"], "UALICE", {"amount": {"amount": "30.00"}})
    assert answer["errors"] == {"amount": text.STALE_CARD}
    assert fresh(refund).amount_minor == 4500


def test_a_user_deactivated_while_the_modal_was_open_cannot_submit_it(slack_app, tasks):
    alice = person(slack_app, "alice", Role.AGENT)
    refund = review_refund()
    view = open_modal(slack_app, "UALICE", refund, "edit")
    alice.is_active = False
    alice.save()
    answer = slack_app.submit(view["id"], "UALICE", {})
    assert answer["errors"] == {
        "amount": "Your Refund desk console account is deactivated, so you cannot decide refunds."
    }
    assert fresh(refund).state == RefundState.REQUESTED


# --- submitting Decline ---------------------------------------------------------------------


def test_decline_with_reason_and_rationale_the_rationale_never_reaches_the_customer(slack_app, tasks, monkeypatch):
    monkeypatch.setattr(deliver_email, "apply_async", tasks.recorder(deliver_email))
    bob = person(slack_app, "bob", Role.AGENT)
    refund = review_refund()
    view = open_modal(slack_app, "UBOB", refund, "decline")
    reason = "We cannot refund this order: it was delivered and used."
    rationale = "INTERNAL ONLY: customer has 9 refunds this month"
    mail.outbox.clear()
    answer = slack_app.submit(view["id"], "UBOB", {"reason": {"reason": reason}, "rationale": {"rationale": rationale}})
    assert answer["body"] == {"response_action": "clear"}
    after = fresh(refund)
    assert (after.state, after.decline_reason) == (RefundState.DENIED, reason)
    decision = after.decisions.get(kind=DecisionKind.DENY)
    assert (decision.actor, decision.rationale) == (bob, rationale)
    event = AuditEvent.objects.get(refund=refund, action="refund.denied")
    assert (event.channel, event.after["rationale"]) == ("slack", rationale)
    tasks.drain()
    bodies = [
        email.subject + email.body + "".join(str(content) for content, _ in getattr(email, "alternatives", []))
        for email in mail.outbox
    ]
    assert any(reason in body for body in bodies)  # the decline email
    assert not any("INTERNAL ONLY" in body or "9 refunds" in body for body in bodies)
    # Goodwill is recommended for approval: declining it overrides the policy, flagged as in the console.
    assert told(slack_app, "UBOB") == ["Declined. This overrides the policy's approve recommendation and is flagged."]


def test_a_decline_reason_of_blanks_is_refused_in_the_modal(slack_app, tasks):
    person(slack_app, "bob", Role.AGENT)
    refund = review_refund()
    view = open_modal(slack_app, "UBOB", refund, "decline")
    answer = slack_app.submit(view["id"], "UBOB", {"reason": {"reason": "   "}})
    assert answer["errors"] == {"reason": "Declining a refund needs a message to the customer."}
    assert fresh(refund).state == RefundState.REQUESTED


def test_a_decline_reason_with_an_unknown_placeholder_is_refused_in_the_modal(slack_app, tasks):
    person(slack_app, "bob", Role.AGENT)
    refund = review_refund()
    view = open_modal(slack_app, "UBOB", refund, "decline")
    answer = slack_app.submit(view["id"], "UBOB", {"reason": {"reason": "Sorry {nobody}."}})
    assert answer["errors"] == {"reason": refusal(lambda: reply_check_placeholders("Sorry {nobody}."))}
    assert fresh(refund).state == RefundState.REQUESTED
