"""The Slack simulator's channel page in a real browser: a new user approves from "Slack" in the demo.

The card is posted with slack_sdk as the app posts it; the click happens in
chromium on the page's button; a loopback receiver stands in for the app's
interactions URL and must get the signed block_actions payload. The page
runs under its own strict CSP: any refusal Chromium reports fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from tests.e2e.browser.test_csp import RECORD_VIOLATIONS
from tests.support.slack_sim import InteractionReceiver, SlackSimulator

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CARD = [
    {"type": "header", "text": {"type": "plain_text", "text": "Refund R-1042 needs approval"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*120.00 EUR* to _Jane_ <https://shop.example/o/77|order 77>\n>lost"},
        "fields": [
            {"type": "mrkdwn", "text": "*Requested by*\n<@U1>"},
            {"type": "mrkdwn", "text": "*Reason*\nnot_received"},
        ],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "`R-1042` <script>alert(1)</script>"}]},
    {"type": "divider"},
    {
        "type": "actions",
        "block_id": "refund:1042",
        "elements": [
            {"type": "button", "action_id": "refund_approve", "value": "1042", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "refund_deny", "value": "1042", "style": "danger",
             "text": {"type": "plain_text", "text": "Deny"}},
        ],
    },
]  # fmt: skip
DENY_MODAL = {
    "type": "modal",
    "callback_id": "refund_deny",
    "title": {"type": "plain_text", "text": "Deny refund R-1042"},
    "submit": {"type": "plain_text", "text": "Deny refund"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason for the customer"},
            "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True},
        }
    ],
}


@pytest.fixture
def receiver(slack_sim: SlackSimulator) -> Iterator[InteractionReceiver]:
    running = InteractionReceiver()
    slack_sim.configure(running.url)
    yield running
    running.close()


@pytest.fixture
def slack_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and console.append(msg.text))
    page.csp_reports = lambda: console + page.evaluate("window.__cspViolations || []")
    yield page
    context.close()


def test_a_click_on_the_card_reaches_the_app_signed(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, slack_page, screenshot_dir
) -> None:
    slack_sim.add_user("U1", "agent@example.com", "agent", real_name="Alice Agent")
    slack_sim.add_user("U2", "senior1@example.com", "senior1", real_name="Sam Senior")
    client = WebClient(token=slack_sim.token, base_url=slack_sim.api_base, retry_handlers=[])
    ts = client.chat_postMessage(channel="C0APPROVALS", text="Refund R-1042", blocks=CARD)["ts"]

    slack_page.goto(f"{slack_sim.url}/_sim/")
    expect(slack_page.get_by_text("Refund R-1042 needs approval")).to_be_visible()
    expect(slack_page.get_by_role("button", name="Approve")).to_be_disabled()  # nobody chosen yet
    slack_page.get_by_label("You are").select_option("U2")
    slack_page.get_by_role("button", name="Switch").click()
    expect(slack_page.get_by_text("@agent")).to_be_visible()
    expect(slack_page.get_by_role("link", name="order 77")).to_have_attribute("href", "https://shop.example/o/77")
    slack_page.screenshot(path=str(screenshot_dir / "slack-sim-channel.png"), full_page=True)
    slack_page.get_by_role("button", name="Approve").click()

    expect(slack_page.get_by_text("Refund R-1042 needs approval")).to_be_visible()
    [(headers, body)] = receiver.requests
    assert SignatureVerifier(slack_sim.signing_secret).is_valid_request(body, headers)
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U2"
    assert payload["container"]["message_ts"] == ts
    assert [(a["action_id"], a["value"], a["block_id"]) for a in payload["actions"]] == [
        ("refund_approve", "1042", "refund:1042")
    ]
    assert slack_page.csp_reports() == []


def test_a_modal_opened_by_the_app_shows_its_errors_and_closes_on_success(
    slack_sim: SlackSimulator, receiver: InteractionReceiver, slack_page, screenshot_dir
) -> None:
    slack_sim.add_user("U2", "senior1@example.com", "senior1", real_name="Sam Senior")
    client = WebClient(token=slack_sim.token, base_url=slack_sim.api_base, retry_handlers=[])
    client.chat_postMessage(channel="C0APPROVALS", text="Refund R-1042", blocks=CARD)

    def app(headers: dict[str, str], body: bytes) -> tuple[int, dict | None]:
        payload = json.loads(parse_qs(body.decode())["payload"][0])
        if payload["type"] == "block_actions":
            client.views_open(trigger_id=payload["trigger_id"], view=DENY_MODAL)
            return 200, None
        reason = payload["view"]["state"]["values"]["reason"]["reason"]["value"]
        if len(reason) < 10:
            return 200, {"response_action": "errors", "errors": {"reason": "Give the customer at least 10 characters."}}
        return 200, None

    receiver.reply = app
    slack_page.goto(f"{slack_sim.url}/_sim/?channel=C0APPROVALS&user=U2")
    slack_page.get_by_role("button", name="Deny").click()

    dialog = slack_page.get_by_role("dialog")
    expect(dialog.get_by_text("Deny refund R-1042")).to_be_visible()
    dialog.get_by_label("Reason for the customer").fill("short")
    dialog.get_by_role("button", name="Deny refund").click()
    expect(dialog.get_by_role("alert")).to_have_text("Give the customer at least 10 characters.")
    expect(dialog.get_by_label("Reason for the customer")).to_have_value("short")
    slack_page.screenshot(path=str(screenshot_dir / "slack-sim-modal.png"))
    dialog.get_by_label("Reason for the customer").fill("The parcel was delivered and signed for.")
    dialog.get_by_role("button", name="Deny refund").click()

    expect(slack_page.get_by_role("dialog")).to_have_count(0)
    assert [v["state"] for v in slack_sim.views("U2")] == ["closed"]
    assert [p["type"] for p in receiver.payloads()] == ["block_actions", "view_submission", "view_submission"]
    assert slack_page.csp_reports() == []
