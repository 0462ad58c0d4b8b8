"""The Slack simulator's Web API, driven by the real slack_sdk WebClient the app uses."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.support.slack_sim import SlackSimulator

CARD = [
    {"type": "header", "text": {"type": "plain_text", "text": "Refund R-1"}},
    {
        "type": "actions",
        "block_id": "refund:R-1",
        "elements": [
            {
                "type": "button",
                "action_id": "refund_approve",
                "value": "R-1",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
            }
        ],
    },
]


@pytest.fixture
def client(slack_sim: SlackSimulator) -> WebClient:
    return WebClient(token=slack_sim.token, base_url=slack_sim.api_base, retry_handlers=[])


def _error(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


def test_auth_test_answers_the_bot_identity(client: WebClient) -> None:
    answer = client.auth_test()

    assert answer["ok"] is True
    assert answer["team_id"] == "T0SIM"
    assert answer["user_id"] and answer["bot_id"] and answer["url"].startswith("https://")


def test_a_wrong_token_is_invalid_auth_and_none_is_not_authed(slack_sim: SlackSimulator) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=slack_sim.api_base, retry_handlers=[])
    anonymous = WebClient(token=None, base_url=slack_sim.api_base, retry_handlers=[])

    bad = _error(lambda: wrong.chat_postMessage(channel="C1", text="hi"))
    missing = _error(lambda: anonymous.auth_test())

    assert (bad.response.status_code, bad.response["error"]) == (200, "invalid_auth")
    assert missing.response["error"] == "not_authed"
    assert slack_sim.messages("C1") == []


def test_post_message_stores_the_card_with_an_increasing_ts(client: WebClient, slack_sim: SlackSimulator) -> None:
    first = client.chat_postMessage(channel="C0APPROVALS", text="Refund R-1", blocks=CARD)
    second = client.chat_postMessage(channel="C0APPROVALS", text="Refund R-2")

    assert first["channel"] == "C0APPROVALS"
    assert first["message"]["blocks"] == CARD
    assert float(first["ts"]) < float(second["ts"])
    assert len(first["ts"].split(".")[1]) == 6
    stored = slack_sim.messages("C0APPROVALS")
    assert [(m["ts"], m["text"], m["updates"]) for m in stored] == [
        (first["ts"], "Refund R-1", 0),
        (second["ts"], "Refund R-2", 0),
    ]
    assert stored[0]["blocks"] == CARD


def test_post_message_without_text_or_blocks_is_no_text(client: WebClient) -> None:
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns before sending it all the same
        error = _error(lambda: client.chat_postMessage(channel="C1"))

    assert error.response["error"] == "no_text"


def test_update_replaces_the_message_and_counts(client: WebClient, slack_sim: SlackSimulator) -> None:
    posted = client.chat_postMessage(channel="C1", text="pending", blocks=CARD)
    done = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Approved* by <@U1>"}}]

    answer = client.chat_update(channel="C1", ts=posted["ts"], text="approved", blocks=done)
    client.chat_update(channel="C1", ts=posted["ts"], text="approved again", blocks=done)

    assert answer["ts"] == posted["ts"]
    [message] = slack_sim.messages("C1")
    assert (message["text"], message["blocks"], message["updates"]) == ("approved again", done, 2)


def test_update_of_an_unknown_message_is_message_not_found(client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="x")

    error = _error(lambda: client.chat_update(channel="C1", ts="1700000000.000100", text="y"))

    assert error.response["error"] == "message_not_found"


def test_ephemeral_goes_to_one_registered_user(client: WebClient, slack_sim: SlackSimulator) -> None:
    slack_sim.add_user("U1", "alice@example.com", "alice")

    answer = client.chat_postEphemeral(channel="C1", user="U1", text="Only you can see this")
    stranger = _error(lambda: client.chat_postEphemeral(channel="C1", user="U9", text="x"))

    assert answer["message_ts"]
    assert [e["text"] for e in slack_sim.ephemerals("C1", "U1")] == ["Only you can see this"]
    assert slack_sim.ephemerals("C1", "U2") == []
    assert stranger.response["error"] == "user_not_in_channel"


def test_users_info_answers_the_registered_profile(client: WebClient, slack_sim: SlackSimulator) -> None:
    slack_sim.add_user("U1", "alice@example.com", "alice", real_name="Alice Example", is_restricted=True)

    user = client.users_info(user="U1")["user"]
    missing = _error(lambda: client.users_info(user="U404"))

    assert user["id"] == "U1" and user["team_id"] == "T0SIM" and user["name"] == "alice"
    assert user["profile"]["email"] == "alice@example.com"
    assert user["profile"]["real_name"] == "Alice Example"
    assert (user["deleted"], user["is_bot"], user["is_restricted"], user["is_email_confirmed"]) == (
        False,
        False,
        True,
        True,
    )
    assert missing.response["error"] == "user_not_found"


def test_an_injected_429_carries_retry_after(client: WebClient, slack_sim: SlackSimulator) -> None:
    slack_sim.fault("chat.update", 429, count=1, retry_after=7)
    posted = client.chat_postMessage(channel="C1", text="x")

    limited = _error(lambda: client.chat_update(channel="C1", ts=posted["ts"], text="y"))
    after = client.chat_update(channel="C1", ts=posted["ts"], text="y")

    assert limited.response.status_code == 429
    assert limited.response["error"] == "ratelimited"
    assert int(limited.response.headers["Retry-After"]) == 7
    assert after["ok"] is True
    assert [(c["method"], c["status"]) for c in slack_sim.calls()] == [
        ("chat.postMessage", 200),
        ("chat.update", 429),
        ("chat.update", 200),
    ]


def test_an_injected_500_fails_any_method_until_cleared(client: WebClient, slack_sim: SlackSimulator) -> None:
    slack_sim.fault("*", 500, count=5)

    failed = _error(lambda: client.chat_postMessage(channel="C1", text="x"))
    slack_sim.clear_faults()
    posted = client.chat_postMessage(channel="C1", text="x")

    assert failed.response.status_code == 500
    assert posted["ok"] is True
    assert len(slack_sim.messages("C1")) == 1


def test_views_open_needs_a_fresh_trigger_from_a_click(client: WebClient, slack_sim: SlackSimulator) -> None:
    slack_sim.add_user("U1", "alice@example.com", "alice")
    posted = client.chat_postMessage(channel="C1", text="card", blocks=CARD)
    modal = {"type": "modal", "callback_id": "deny", "title": {"type": "plain_text", "text": "Deny"}, "blocks": []}
    # No interactions URL: the click is not delivered, but Slack issued its trigger all the same.
    trigger = slack_sim.click("U1", "C1", posted["ts"], "refund_approve")["trigger_id"]

    made_up = _error(lambda: client.views_open(trigger_id="1.2.abc", view=modal))
    opened = client.views_open(trigger_id=trigger, view=modal)
    reused = _error(lambda: client.views_open(trigger_id=trigger, view=modal))

    assert made_up.response["error"] == "invalid_trigger_id"
    assert opened["view"]["id"].startswith("V") and opened["view"]["callback_id"] == "deny"
    assert reused.response["error"] == "exchanged_trigger_id"
    [view] = slack_sim.views("U1")
    assert (view["id"], view["state"], view["errors"]) == (opened["view"]["id"], "open", {})


def test_a_trigger_expires_after_three_seconds(client: WebClient, slack_sim: SlackSimulator) -> None:
    slack_sim.add_user("U1", "alice@example.com", "alice")
    posted = client.chat_postMessage(channel="C1", text="card", blocks=CARD)
    trigger = slack_sim.click("U1", "C1", posted["ts"], "refund_approve")["trigger_id"]
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Deny"}, "blocks": []}

    slack_sim.advance_clock(3.5)
    expired = _error(lambda: client.views_open(trigger_id=trigger, view=modal))

    assert expired.response["error"] == "expired_trigger_id"
    assert slack_sim.views("U1") == []


def test_reset_forgets_everything(client: WebClient, slack_sim: SlackSimulator) -> None:
    slack_sim.add_user("U1", "alice@example.com", "alice")
    client.chat_postMessage(channel="C1", text="x")
    slack_sim.fault("*", 503, count=3)

    slack_sim.reset()

    assert (slack_sim.messages(), slack_sim.calls()) == ([], [])
    assert client.auth_test()["ok"] is True  # the fault went too
    assert _error(lambda: client.users_info(user="U1")).response["error"] == "user_not_found"


def test_a_restart_keeps_the_port(slack_sim: SlackSimulator, client: WebClient) -> None:
    url = slack_sim.url

    slack_sim.stop()
    down = _error_or_none(client)
    slack_sim.start()

    assert down is not None
    assert slack_sim.url == url
    assert client.auth_test()["ok"] is True


def _error_or_none(client: WebClient) -> Exception | None:
    try:
        client.auth_test()
    except Exception as exc:  # noqa: BLE001 - the connection is refused: any transport error
        return exc
    return None
