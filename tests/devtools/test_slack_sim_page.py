"""The channel page at /_sim/: Slack's look from the app's Block Kit, escaped, under a strict CSP."""

from __future__ import annotations

import re

import pytest
from slack_sdk import WebClient

from devtools.slack_sim.page import mrkdwn
from devtools.slack_sim.state import Workspace
from tests.support.slack_sim import SlackSimulator

MODAL = {
    "type": "modal",
    "callback_id": "refund_deny",
    "title": {"type": "plain_text", "text": "Deny refund"},
    "submit": {"type": "plain_text", "text": "Deny"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason"},
            "hint": {"type": "plain_text", "text": "The customer reads it"},
            "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True, "max_length": 500},
        },
        {
            "type": "input",
            "block_id": "note",
            "optional": True,
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "note", "initial_value": "from <Slack>"},
        },
    ],
}


@pytest.fixture
def client(slack_sim: SlackSimulator) -> WebClient:
    return WebClient(token=slack_sim.token, base_url=slack_sim.api_base, retry_handlers=[])


def _page(slack_sim: SlackSimulator, **params: str) -> str:
    answer = slack_sim.request("GET", "/_sim/", params=params)
    assert answer.status_code == 200
    return answer.text


def test_mrkdwn_formats_and_escapes() -> None:
    ws = Workspace()
    ws.users["U1"] = {"name": "alice"}

    html = mrkdwn("*bold* _it_ ~gone~ `x<y` <https://e.example/a?b=1&amp;c=2|the link> <@U1>\n&gt; quoted", ws)

    assert "<b>bold</b>" in html and "<i>it</i>" in html and "<s>gone</s>" in html
    assert "<code>x&lt;y</code>" in html
    assert '<a href="https://e.example/a?b=1&amp;c=2" rel="noopener noreferrer">the link</a>' in html
    assert '<span class="mention">@alice</span>' in html
    assert "<blockquote> quoted</blockquote>" in html or "<blockquote>quoted</blockquote>" in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<javascript:alert(1)|click me>",
        '"><img src=x onerror=alert(1)>',
        "*<b onmouseover=alert(1)>*",
    ],
)
def test_mrkdwn_never_lets_markup_or_script_links_through(text: str) -> None:
    html = mrkdwn(text, Workspace())

    assert "<script" not in html and "<img" not in html
    assert not re.search(r"<(?!/?(b|i|s|code|br|blockquote|pre|span|a)\b)", html)
    assert "href" not in html


def test_the_page_renders_a_card_with_a_button_form_per_button(slack_sim: SlackSimulator, client: WebClient) -> None:
    slack_sim.add_user("U1", "alice@example.com", "alice")
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Refund <R-1>"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Amount*\n12.00 EUR"}]},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "requested by <@U1>"}]},
        {
            "type": "actions",
            "block_id": "refund:R-1",
            "elements": [
                {"type": "button", "action_id": "approve", "value": "R-1", "style": "primary",
                 "text": {"type": "plain_text", "text": "Approve"}},
                {"type": "button", "action_id": "deny", "value": "R-1", "style": "danger",
                 "text": {"type": "plain_text", "text": "Deny"}},
            ],
        },
    ]  # fmt: skip
    ts = client.chat_postMessage(channel="C0APPROVALS", text="Refund R-1", blocks=blocks)["ts"]

    html = _page(slack_sim, channel="C0APPROVALS", user="U1")

    assert "Refund &lt;R-1&gt;" in html
    assert '<button class="btn btn-primary" type="submit">Approve</button>' in html
    assert '<button class="btn btn-danger" type="submit">Deny</button>' in html
    assert html.count('action="/_sim/ui/click"') == 2
    assert f'name="ts" value="{ts}"' in html
    assert '<span class="mention">@alice</span>' in html
    assert '<meta http-equiv="refresh"' in html


def test_without_a_chosen_user_the_buttons_are_disabled(slack_sim: SlackSimulator, client: WebClient) -> None:
    blocks = [
        {
            "type": "actions",
            "elements": [{"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "Go"}}],
        }
    ]
    client.chat_postMessage(channel="C0APPROVALS", text="x", blocks=blocks)

    html = _page(slack_sim, channel="C0APPROVALS")

    assert "/_sim/ui/click" not in html
    assert "disabled" in html


def test_the_page_has_no_inline_script_or_style_and_a_strict_csp(slack_sim: SlackSimulator, client: WebClient) -> None:
    slack_sim.add_user("U1", "alice@example.com", "alice")
    client.chat_postMessage(channel="C0APPROVALS", text="<script>alert('x')</script> style=\"color:red\"")

    answer = slack_sim.request("GET", "/_sim/", params={"user": "U1"})

    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "style-src 'self'" in csp and "script-src" not in csp
    assert "<script" not in answer.text
    assert "style=" not in answer.text.replace('style=\\"', "").replace("style=&quot;", "")
    css = slack_sim.request("GET", "/_sim/static/slack_sim.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")


def test_an_open_modal_is_a_form_with_its_errors_and_no_refresh(slack_sim: SlackSimulator, client: WebClient) -> None:
    slack_sim.add_user("U1", "alice@example.com", "alice")
    blocks = [
        {
            "type": "actions",
            "elements": [{"type": "button", "action_id": "deny", "text": {"type": "plain_text", "text": "Deny"}}],
        }
    ]
    ts = client.chat_postMessage(channel="C0APPROVALS", text="x", blocks=blocks)["ts"]
    view_id = client.views_open(trigger_id=slack_sim.click("U1", "C0APPROVALS", ts, "deny")["trigger_id"], view=MODAL)[
        "view"
    ]["id"]
    # No app is listening: the refused submission leaves the modal open; give it errors the way an app would.
    slack_sim.request("POST", "/_sim/ui/submit", data={"view_id": view_id, "user": "U1", "v:reason:reason": ""})

    html = _page(slack_sim, channel="C0APPROVALS", user="U1")

    assert '<meta http-equiv="refresh"' not in html
    assert 'action="/_sim/ui/submit"' in html and f'name="view_id" value="{view_id}"' in html
    assert '<textarea rows="4" id="f-reason-reason" name="v:reason:reason" required maxlength="500"' in html
    assert 'value="from &lt;Slack&gt;"' in html and "(optional)" in html
    assert "The customer reads it" in html
    assert '<div class="field-error" role="alert">Please complete this required field.</div>' in html
    assert 'formaction="/_sim/ui/close" formnovalidate' in html


def test_the_add_user_form_registers_a_member_and_selects_it(slack_sim: SlackSimulator) -> None:
    answer = slack_sim.request(
        "POST", "/_sim/ui/users", data={"name": "sam", "email": "sam@example.com"}, allow_redirects=False
    )

    [user] = slack_sim.request("GET", "/_sim/users").json()
    assert user["profile"]["email"] == "sam@example.com"
    assert answer.status_code == 303 and f"user={user['id']}" in answer.headers["Location"]
