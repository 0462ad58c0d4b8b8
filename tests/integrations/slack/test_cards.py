"""The card's Block Kit (integrations.slack.cards): what it shows in each state, escaped and within Slack's limits."""

from __future__ import annotations

import pytest
from django.utils import timezone

from integrations.slack.cards import card_blocks, card_refund
from notifications.replies import reply_render
from refunds.enums import RefundState, Role
from refunds.models import OrderLine
from refunds.services.decide import refund_approve, refund_deny, refund_edit
from tests.integrations.slack.support import actions, all_text, reviewed, slack_actor
from tests.refunds.factories import agent, move_refund

pytestmark = pytest.mark.django_db
S = RefundState


def render(refund):
    return card_blocks(card_refund(refund.pk))


def test_a_requested_card_shows_the_refund_and_three_buttons_naming_its_version(settings):
    settings.APP_BASE_URL = "https://desk.example.com"
    refund = reviewed(amount_minor=4250)

    text, blocks = render(refund)

    shown = all_text(blocks)
    assert "Jane Doe" in shown and refund.order.order_id in shown
    # The channel may have guests: no email address on the card, the console link has the rest.
    assert refund.order.customer.email not in shown + text and "jane.doe" not in (shown + text).lower()
    assert "Blue ceramic mug 1" in shown
    assert "42.50 USD" in shown and "42.50 USD" in text
    assert "Goodwill" in shown
    assert refund.policy_rule in shown and refund.policy_rule_text in shown
    assert "0 of 1 approval" in shown
    assert f"https://desk.example.com/console/refunds/{refund.public_id}/" in shown
    # The draft as the customer reads it: placeholders filled, quoted.
    assert "{amount}" in refund.draft_reply
    rendered = reply_render(refund.draft_reply, refund=refund)
    assert "$42.50" in rendered
    assert "{amount}" not in shown
    assert "\n".join(f"> {line}" if line else ">" for line in rendered.splitlines()) in shown
    [block] = actions(blocks)
    assert block["block_id"] == f"decide:{refund.public_id}:v{refund.version}"
    buttons = {b["action_id"]: b for b in block["elements"]}
    assert list(buttons) == ["approve", "edit", "decline"]
    assert {b["value"] for b in buttons.values()} == {refund.public_id}
    assert buttons["approve"]["style"] == "primary" and buttons["decline"]["style"] == "danger"
    assert "style" not in buttons["edit"]
    assert "needs a decision" in text


def test_an_edit_moves_the_block_id_to_the_new_version_and_shows_the_new_amount():
    refund = reviewed(amount_minor=4250)
    edited = refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=3000)

    _, blocks = render(edited)

    assert actions(blocks)[0]["block_id"] == f"decide:{refund.public_id}:v{edited.version}"
    assert edited.version > refund.version
    assert "30.00 USD" in all_text(blocks) and "edited by editor" in all_text(blocks)


def test_one_of_two_approvals_keeps_the_buttons_and_says_who_approved():
    refund = reviewed(amount_minor=25000, order_amount=100000)
    assert refund.approvals_required == 2
    refund_approve(refund_id=refund.pk, actor=slack_actor("senior-one", Role.SENIOR_AGENT))

    text, blocks = render(refund)

    shown = all_text(blocks)
    assert "1 of 2 approvals: senior-one (Slack USENIORONE)" in shown
    assert "second senior approval" in shown
    assert len(actions(blocks)) == 1
    assert "1 of 2 approvals" in text


def test_an_approved_card_has_no_buttons_and_says_who_approved_when():
    refund = reviewed(amount_minor=25000, order_amount=100000)
    refund_approve(refund_id=refund.pk, actor=slack_actor("senior-one", Role.SENIOR_AGENT))
    refund_approve(refund_id=refund.pk, actor=agent("senior-two", Role.SENIOR_AGENT))

    text, blocks = render(refund)

    shown = all_text(blocks)
    assert actions(blocks) == []
    assert "*Approved* by senior-one (Slack USENIORONE) and senior-two at " in shown and "\u00a0UTC" in shown
    assert "2 of 2 approvals" in shown
    assert text.endswith("approved")


def test_a_declined_card_shows_the_customers_message_and_never_the_internal_rationale():
    refund = reviewed()
    refund_deny(
        refund_id=refund.pk,
        actor=slack_actor("decliner"),
        note="We cannot refund {amount}: the parcel was signed for.",
        rationale="Customer has 14 prior claims - likely abuse",
    )

    text, blocks = render(refund)

    shown = all_text(blocks) + text
    assert actions(blocks) == []
    assert "*Declined* by decliner (Slack UDECLINER) at " in shown
    assert "We cannot refund $42.50: the parcel was signed for." in shown
    assert "prior claims" not in shown and "abuse" not in shown
    # The approval's draft was never sent: it is not on a declined card.
    assert reply_render(refund.draft_reply, refund=refund) not in shown


def test_a_completed_card_says_when_the_money_went_back():
    refund = reviewed()
    refund_approve(refund_id=refund.pk, actor=agent("approver"))
    move_refund(refund, S.SUBMITTING)
    move_refund(refund, S.COMPLETED, changes={"completed_at": timezone.now()})

    _, blocks = render(refund)

    shown = all_text(blocks)
    assert "*Approved* by approver at " in shown
    assert "*Completed* — refunded on " in shown
    assert actions(blocks) == []


def test_a_failed_card_says_the_failure_in_words():
    refund = reviewed()
    refund_approve(refund_id=refund.pk, actor=agent("approver"))
    move_refund(refund, S.SUBMITTING)
    move_refund(refund, S.FAILED, changes={"failure_code": "lost_or_stolen_card", "failure_retryable": False})

    text, blocks = render(refund)

    shown = all_text(blocks)
    assert "*Failed*: The customer's card was reported lost or stolen" in shown
    assert text.endswith("failed")


def test_a_refund_returned_after_completion_says_so():
    refund = reviewed()
    refund_approve(refund_id=refund.pk, actor=agent("approver"))
    move_refund(refund, S.SUBMITTING)
    move_refund(refund, S.COMPLETED, changes={"completed_at": timezone.now()})
    move_refund(refund, S.FAILED, changes={"failure_code": "declined"})

    _, blocks = render(refund)

    assert "*Returned by the bank*: The refund had been paid" in all_text(blocks)


def test_customer_text_cannot_form_links_or_mentions():
    refund = reviewed(name="<!channel> Eve & <https://evil.example|click>")
    refund.customer_note = "<@U123> please"
    refund.save(update_fields=["customer_note"])

    text, blocks = render(refund)

    shown = all_text(blocks) + text
    assert "<!channel>" not in shown and "<@U123>" not in shown and "<https://evil" not in shown
    assert "&lt;!channel&gt; Eve &amp; &lt;https://evil.example|click&gt;" in shown


def test_a_long_reply_stays_within_slacks_limits():
    refund = reviewed()
    long_reply = "We are sorry. " * 600  # 8400 characters
    refund_edit(refund_id=refund.pk, actor=agent("editor"), reply=long_reply)

    text, blocks = render(refund)

    assert len(blocks) <= 50 and len(text) <= 3000
    for block in blocks:
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    assert "…" in all_text(blocks)


def mrkdwn_objects(node):
    """Every mrkdwn text object in the blocks."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node
        for value in node.values():
            yield from mrkdwn_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_objects(item)


@pytest.mark.parametrize("state", [S.REQUESTED, S.DENIED])
def test_every_mrkdwn_text_is_verbatim_so_slack_links_and_mentions_nothing_by_itself(state):
    refund = reviewed(name="Eve #general @here https://evil.example")
    refund.customer_note = "see www.evil.example and #random, ping @channel"
    refund.save(update_fields=["customer_note"])
    if state == S.DENIED:
        refund_deny(refund_id=refund.pk, actor=slack_actor("sam"), note="No: see #policy")

    _, blocks = render(refund)

    texts = list(mrkdwn_objects(blocks))
    assert texts and all(t.get("verbatim") is True for t in texts), [t for t in texts if not t.get("verbatim")]
    assert "www.evil.example" in all_text(blocks)  # shown as typed, as text


def test_the_customers_note_and_item_names_cannot_draw_lines_of_their_own():
    forged = "ok\n*Amount*\n1.00 USD\r\n*Approvals*\u2028done\u202eevil\x07"
    refund = reviewed(name="Jane\nDoe")
    refund.customer_note = forged
    refund.save(update_fields=["customer_note"])
    OrderLine.objects.filter(order=refund.order).update(description="Mug\n*Approvals*\n1 of 1 approval")

    _, blocks = render(refund)

    fields = {f["text"].split("\n", 1)[0]: f["text"] for f in blocks[1]["fields"]}
    assert fields["*Customer*"] == "*Customer*\nJane Doe"
    assert fields["*Reason*"].endswith("“ok *Amount* 1.00 USD *Approvals* done evil”")
    assert fields["*Item*"] == "*Item*\nMug *Approvals* 1 of 1 approval"
    for field in fields.values():
        assert not any(ch in field for ch in "\r\u2028\u202e\x07")
    assert "\n1.00 USD" not in all_text(blocks)
