"""Issue 13: the Slack card follows its refund on a real stack (gunicorn, a Celery worker with beat, Slack simulated).

A goodwill refund over the dual-control threshold is asked for through the
API; the worker posts its card. Each approval made through the API updates
the same message, and once the provider settles it the card says so, with no
buttons left. Then Slack goes down while another refund is declined, and the
card catches up once Slack is back.
"""

from __future__ import annotations

import pytest

from refunds.enums import Role
from tests.integrations.slack.support import actions, all_text, wait_for
from tests.refunds.factories import api_key
from tests.support.live import ApiClient
from tests.support.merchant import push_order, refund_body, wait_state
from tests.support.slack_sim import APPROVALS_CHANNEL


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    from tests.support.stack import Stack

    running = Stack(slack=True).start()
    yield running
    running.stop()


def _card(slack, refund_id: str) -> dict | None:
    for message in slack.messages(APPROVALS_CHANNEL):
        if any(b["elements"][0]["value"] == refund_id for b in actions(message["blocks"])) or (
            refund_id in all_text(message["blocks"])
        ):
            return message
    return None


def _card_shows(slack, refund_id: str, text: str) -> dict:
    found: list[dict] = []

    def shows() -> bool:
        card = _card(slack, refund_id)
        if card is not None and text in all_text(card["blocks"]):
            found.append(card)
            return True
        return False

    wait_for(shows, limit=60, what=f"the card of {refund_id} showing {text!r}")
    return found[-1]


def test_the_card_follows_every_approval_to_completion(stack, stack_merchant):
    slack = stack.slack
    senior1 = ApiClient(stack.url, api_key("senior-one", role=Role.SENIOR_AGENT))
    senior2 = ApiClient(stack.url, api_key("senior-two", role=Role.SENIOR_AGENT))
    order_id, _ = push_order(stack_merchant, mode="ok", amount_minor=50000)
    refund_id = stack_merchant.post(
        f"/v1/orders/{order_id}/refunds", refund_body(25000, reason="goodwill"), **{"Idempotency-Key": "j13-1"}
    ).json()["refund_id"]

    posted = _card_shows(slack, refund_id, "0 of 2 approvals")
    assert [b["action_id"] for b in actions(posted["blocks"])[0]["elements"]] == ["approve", "edit", "decline"]

    decide = f"/v1/refunds/{refund_id}/decision"
    senior1.post(decide, {"decision": "approve"}).raise_for_status()
    _card_shows(slack, refund_id, "1 of 2 approvals: senior-one")
    senior2.post(decide, {"decision": "approve"}).raise_for_status()
    wait_state(senior1, refund_id, {"completed"})
    done = _card_shows(slack, refund_id, "*Completed* — refunded on ")

    assert actions(done["blocks"]) == []
    assert "*Approved* by senior-one (key " in all_text(done["blocks"])
    assert done["ts"] == posted["ts"] and done["updates"] >= 2
    assert len([m for m in slack.messages(APPROVALS_CHANNEL) if refund_id in all_text(m["blocks"])]) == 1


def test_a_decline_made_while_slack_is_down_reaches_the_card_once_it_is_back(stack, stack_merchant):
    slack = stack.slack
    decider = ApiClient(stack.url, api_key("decider", role=Role.AGENT))
    order_id, _ = push_order(stack_merchant, mode="ok", amount_minor=10000)
    refund_id = stack_merchant.post(
        f"/v1/orders/{order_id}/refunds", refund_body(4000, reason="goodwill"), **{"Idempotency-Key": "j13-2"}
    ).json()["refund_id"]
    _card_shows(slack, refund_id, "0 of 1 approval")

    slack.fault("*", 503, count=100_000)
    declined = decider.post(f"/v1/refunds/{refund_id}/decision", {"decision": "deny", "note": "Signed for."})
    assert declined.status_code == 200 and declined.json()["state"] == "denied"  # never waits for Slack
    wait_for(lambda: any(c["status"] == 503 for c in slack.calls("chat.update")), limit=60, what="a failed chat.update")
    slack.clear_faults()

    card = _card_shows(slack, refund_id, "*Declined* by decider")
    assert actions(card["blocks"]) == [] and "Signed for." in all_text(card["blocks"])
