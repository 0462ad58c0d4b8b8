"""Clicks and modal submissions as the simulator sends them: signed like Slack, shaped like Slack."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from tests.support.slack_sim import InteractionReceiver, SlackSimulator

CARD = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Refund R-1* 12.00 EUR"}},
    {
        "type": "actions",
        "block_id": "refund:R-1",
        "elements": [
            {"type": "button", "action_id": "refund_approve", "value": "R-1", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "refund_deny", "value": "R-1", "style": "danger",
             "text": {"type": "plain_text", "text": "Deny"}},
        ],
    },
]  # fmt: skip
DENY_MODAL = {
    "type": "modal",
    "callback_id": "refund_deny",
    "private_metadata": "R-1",
    "title": {"type": "plain_text", "text": "Deny refund"},
    "submit": {"type": "plain_text", "text": "Deny"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True},
        },
        {
            "type": "input",
            "block_id": "note",
            "optional": True,
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "note", "initial_value": "from Slack"},
        },
    ],
}


@pytest.fixture
def receiver(slack_sim: SlackSimulator) -> Iterator[InteractionReceiver]:
    running = InteractionReceiver()
    slack_sim.configure(running.url)
    yield running
    running.close()


@pytest.fixture
def client(slack_sim: SlackSimulator) -> WebClient:
    return WebClient(token=slack_sim.token, base_url=slack_sim.api_base, retry_handlers=[])


@pytest.fixture
def card(slack_sim: SlackSimulator, client: WebClient) -> str:
    slack_sim.add_user("U1", "alice@example.com", "alice")
    return client.chat_postMessage(channel="C0APPROVALS", text="Refund R-1", blocks=CARD)["ts"]


def test_a_click_is_signed_as_slack_signs(slack_sim: SlackSimulator, receiver: InteractionReceiver, card: str) -> None:
    slack_sim.click("U1", "C0APPROVALS", card, "refund_approve")

    [(headers, body)] = receiver.requests
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(slack_sim.signing_secret).is_valid_request(body, headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    assert list(parse_qs(body.decode())) == ["payload"]


def test_a_click_sends_a_block_actions_payload(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, card: str
) -> None:
    answer = slack_sim.click("U1", "C0APPROVALS", card, "refund_deny")

    [payload] = receiver.payloads()
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": "U1", "username": "alice", "name": "alice", "team_id": "T0SIM"}
    assert payload["team"]["id"] == "T0SIM"
    assert payload["container"] == {
        "type": "message",
        "message_ts": card,
        "channel_id": "C0APPROVALS",
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == "C0APPROVALS"
    assert payload["message"]["ts"] == card and payload["message"]["blocks"] == CARD
    assert payload["response_url"].startswith(slack_sim.url)
    [action] = payload["actions"]
    assert (action["type"], action["action_id"], action["block_id"], action["value"]) == (
        "button",
        "refund_deny",
        "refund:R-1",
        "R-1",
    )
    assert action["text"]["text"] == "Deny" and action["action_ts"]
    assert payload["trigger_id"] == answer["trigger_id"]
    assert (answer["status"], answer["body"]) == (200, "")


def test_the_app_can_open_a_modal_while_answering_the_click(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, client: WebClient, card: str
) -> None:
    """What the app does: views.open with the click's trigger_id before it acknowledges."""
    opened: list[str] = []

    def open_modal(headers: dict[str, str], body: bytes) -> tuple[int, None]:
        import json

        payload = json.loads(parse_qs(body.decode())["payload"][0])
        opened.append(client.views_open(trigger_id=payload["trigger_id"], view=DENY_MODAL)["view"]["id"])
        return 200, None

    receiver.reply = open_modal
    slack_sim.click("U1", "C0APPROVALS", card, "refund_deny")

    view = slack_sim.open_view("U1")
    assert view is not None and view["id"] == opened[0]
    assert view["view"]["private_metadata"] == "R-1"


def _open_deny_modal(slack_sim: SlackSimulator, client: WebClient, card: str) -> str:
    trigger = slack_sim.click("U1", "C0APPROVALS", card, "refund_deny")["trigger_id"]
    return client.views_open(trigger_id=trigger, view=DENY_MODAL)["view"]["id"]


def test_a_submission_is_a_signed_view_submission(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, client: WebClient, card: str
) -> None:
    view_id = _open_deny_modal(slack_sim, client, card)

    answer = slack_sim.submit(view_id, "U1", {"reason": {"reason": "Duplicate of R-0"}})

    headers, body = receiver.requests[-1]
    assert SignatureVerifier(slack_sim.signing_secret).is_valid_request(body, headers)
    payload = receiver.payloads()[-1]
    assert payload["type"] == "view_submission"
    assert payload["user"]["id"] == "U1" and payload["trigger_id"]
    view = payload["view"]
    assert (view["id"], view["type"], view["callback_id"], view["private_metadata"]) == (
        view_id,
        "modal",
        "refund_deny",
        "R-1",
    )
    assert view["state"]["values"] == {
        "reason": {"reason": {"type": "plain_text_input", "value": "Duplicate of R-0"}},
        "note": {"note": {"type": "plain_text_input", "value": "from Slack"}},
    }
    assert answer["view_state"] == "closed"
    assert slack_sim.views("U1")[0]["state"] == "closed"


def test_errors_in_the_answer_keep_the_modal_open(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, client: WebClient, card: str
) -> None:
    view_id = _open_deny_modal(slack_sim, client, card)
    receiver.reply = lambda headers, body: (200, {"response_action": "errors", "errors": {"reason": "Too short"}})

    answer = slack_sim.submit(view_id, "U1", {"reason": {"reason": "x"}})

    assert (answer["view_state"], answer["errors"]) == ("open", {"reason": "Too short"})
    [view] = slack_sim.views("U1")
    assert (view["state"], view["errors"]) == ("open", {"reason": "Too short"})

    receiver.reply = lambda headers, body: (200, None)
    assert slack_sim.submit(view_id, "U1", {"reason": {"reason": "A real reason"}})["view_state"] == "closed"


def test_a_required_field_left_empty_is_never_sent(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, client: WebClient, card: str
) -> None:
    view_id = _open_deny_modal(slack_sim, client, card)
    sent_before = len(receiver.requests)

    refused = slack_sim.request("POST", "/_sim/submit", json={"view_id": view_id, "user": "U1", "values": {}})

    assert refused.status_code == 422
    assert refused.json()["errors"] == {"reason": "Please complete this required field."}
    assert len(receiver.requests) == sent_before


def test_a_failing_app_is_reported_and_the_modal_stays_open(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, client: WebClient, card: str
) -> None:
    view_id = _open_deny_modal(slack_sim, client, card)
    receiver.reply = lambda headers, body: (500, None)

    answer = slack_sim.submit(view_id, "U1", {"reason": {"reason": "Duplicate"}})

    assert (answer["status"], answer["view_state"]) == (500, "open")


def test_a_click_on_a_message_without_that_button_is_refused(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, card: str
) -> None:
    refused = slack_sim.request(
        "POST", "/_sim/click", json={"user": "U1", "channel": "C0APPROVALS", "ts": card, "action_id": "nope"}
    )
    stranger = slack_sim.request(
        "POST", "/_sim/click", json={"user": "U9", "channel": "C0APPROVALS", "ts": card, "action_id": "refund_approve"}
    )

    assert (refused.status_code, stranger.status_code) == (404, 404)
    assert receiver.requests == []


def test_a_response_url_replaces_the_original_message(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, card: str
) -> None:
    slack_sim.click("U1", "C0APPROVALS", card, "refund_approve")
    response_url = receiver.payloads()[0]["response_url"]

    answer = slack_sim.request(
        "POST", response_url.removeprefix(slack_sim.url), json={"replace_original": True, "text": "Approved"}
    )

    assert answer.json() == {"ok": True}
    [message] = slack_sim.messages("C0APPROVALS")
    assert (message["text"], message["blocks"], message["updates"]) == ("Approved", [], 1)


def test_the_value_picks_one_of_several_buttons_sharing_an_action_id(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, client: WebClient
) -> None:
    slack_sim.add_user("U1", "alice@example.com", "alice")
    digest = [
        {
            "type": "actions",
            "block_id": f"refund:{n}",
            "elements": [{"type": "button", "action_id": "refund_approve", "value": n,
                          "text": {"type": "plain_text", "text": f"Approve {n}"}}],
        }
        for n in ("R-1", "R-2")
    ]  # fmt: skip
    ts = client.chat_postMessage(channel="C1", text="digest", blocks=digest)["ts"]

    slack_sim.click("U1", "C1", ts, "refund_approve", value="R-2")
    unknown = slack_sim.request(
        "POST",
        "/_sim/click",
        json={"user": "U1", "channel": "C1", "ts": ts, "action_id": "refund_approve", "value": "R-9"},
    )

    [action] = receiver.payloads()[0]["actions"]
    assert (action["value"], action["block_id"], action["text"]["text"]) == ("R-2", "refund:R-2", "Approve R-2")
    assert unknown.status_code == 404
