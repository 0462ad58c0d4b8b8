"""Checkboxes in the simulator's modals: sent as Slack sends them, required ones enforced, drawn on the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from tests.support.slack_sim import InteractionReceiver, SlackSimulator

BUTTON = [
    {
        "type": "actions",
        "elements": [{"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}}],
    }
]
CONFIRM_MODAL = {
    "type": "modal",
    "callback_id": "confirm",
    "title": {"type": "plain_text", "text": "Approve high value"},
    "submit": {"type": "plain_text", "text": "Approve"},
    "blocks": [
        {
            "type": "input",
            "block_id": "confirm",
            "label": {"type": "plain_text", "text": "High value"},
            "element": {
                "type": "checkboxes",
                "action_id": "confirm",
                "options": [{"text": {"type": "plain_text", "text": "I have checked <it>"}, "value": "yes"}],
            },
        },
        {
            "type": "input",
            "block_id": "extras",
            "optional": True,
            "label": {"type": "plain_text", "text": "Extras"},
            "element": {
                "type": "checkboxes",
                "action_id": "extras",
                "options": [
                    {"text": {"type": "plain_text", "text": "Tell the team"}, "value": "team"},
                    {"text": {"type": "plain_text", "text": "Tell the customer"}, "value": "customer"},
                ],
                "initial_options": [{"text": {"type": "plain_text", "text": "Tell the team"}, "value": "team"}],
            },
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
def view_id(slack_sim: SlackSimulator, receiver: InteractionReceiver) -> str:
    client = WebClient(token=slack_sim.token, base_url=slack_sim.api_base, retry_handlers=[])
    slack_sim.add_user("U1", "alice@example.com", "alice")
    ts = client.chat_postMessage(channel="C0APPROVALS", text="x", blocks=BUTTON)["ts"]
    trigger = slack_sim.click("U1", "C0APPROVALS", ts, "approve")["trigger_id"]
    return client.views_open(trigger_id=trigger, view=CONFIRM_MODAL)["view"]["id"]


def test_ticked_boxes_are_sent_as_selected_options_with_their_text(slack_sim, receiver, view_id) -> None:
    answer = slack_sim.submit(view_id, "U1", {"confirm": {"confirm": ["yes"]}, "extras": {"extras": ["customer"]}})
    assert answer["view_state"] == "closed"
    values = receiver.payloads()[-1]["view"]["state"]["values"]
    assert values["confirm"]["confirm"] == {
        "type": "checkboxes",
        "selected_options": [{"value": "yes", "text": {"type": "plain_text", "text": "I have checked <it>"}}],
    }
    assert [o["value"] for o in values["extras"]["extras"]["selected_options"]] == ["customer"]


def test_a_group_left_out_keeps_its_initial_options_and_an_empty_list_ticks_none(slack_sim, receiver, view_id) -> None:
    slack_sim.submit(view_id, "U1", {"confirm": {"confirm": ["yes"]}})
    extras = receiver.payloads()[-1]["view"]["state"]["values"]["extras"]["extras"]
    assert [o["value"] for o in extras["selected_options"]] == ["team"]


def test_a_required_box_left_unticked_is_never_sent(slack_sim, receiver, view_id) -> None:
    refused = slack_sim.request(
        "POST", "/_sim/submit", json={"view_id": view_id, "user": "U1", "values": {"confirm": {"confirm": []}}}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"confirm": "Please complete this required field."}
    assert all(p["type"] != "view_submission" for p in receiver.payloads())


def test_a_value_the_modal_does_not_offer_cannot_be_ticked(slack_sim, receiver, view_id) -> None:
    refused = slack_sim.request(
        "POST", "/_sim/submit", json={"view_id": view_id, "user": "U1", "values": {"confirm": {"confirm": ["no"]}}}
    )
    assert refused.status_code == 422
    assert all(p["type"] != "view_submission" for p in receiver.payloads())


def test_the_page_draws_checkboxes_and_its_form_submits_the_ticked_ones(slack_sim, receiver, view_id) -> None:
    html = slack_sim.request("GET", "/_sim/", params={"channel": "C0APPROVALS", "user": "U1"}).text
    assert '<input type="hidden" name="c:confirm:confirm" value="">' in html
    assert 'type="checkbox" id="f-confirm-confirm-0" name="c:confirm:confirm" value="yes" required>' in html
    assert "I have checked &lt;it&gt;" in html  # the option's text, escaped
    assert 'name="c:extras:extras" value="team" checked>' in html  # initial_options ticked
    assert 'name="c:extras:extras" value="customer">' in html

    # The browser posts the hidden marker and every ticked box: extras unticked here.
    form = [("view_id", view_id), ("user", "U1"), ("channel", "C0APPROVALS"), ("c:confirm:confirm", ""),
            ("c:confirm:confirm", "yes"), ("c:extras:extras", "")]  # fmt: skip
    slack_sim.request("POST", "/_sim/ui/submit", data=form, allow_redirects=False)
    values = receiver.payloads()[-1]["view"]["state"]["values"]
    assert [o["value"] for o in values["confirm"]["confirm"]["selected_options"]] == ["yes"]
    assert values["extras"]["extras"]["selected_options"] == []


def test_a_delayed_call_is_served_late_on_the_real_clock(slack_sim) -> None:
    import time

    client = WebClient(token=slack_sim.token, base_url=slack_sim.api_base, retry_handlers=[], timeout=30)
    slack_sim.fault("auth.test", 0, delay=1.0)
    started = time.monotonic()
    assert client.auth_test()["ok"] is True
    assert time.monotonic() - started >= 1.0
    assert client.auth_test()["ok"] is True  # spent: the next one is served at once
