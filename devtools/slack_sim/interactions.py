"""Interactions as Slack sends them: a user's click or modal submission, signed and posted to the app.

Every request is what Slack's servers send: `POST <interactions URL>` with a
form body `payload=<JSON>`, `X-Slack-Request-Timestamp` (the real clock, in
seconds) and `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{ts}:{body}">`
under the signing secret. The simulator has no way to forge or age a
signature: tests of stale or forged requests build those by hand.

The workspace lock is held while a payload is built and while the app's
answer is applied, never during the POST itself: the app answers a click by
calling views.open on this same simulator before it acknowledges.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from devtools.slack_sim.state import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    RESPONSE_URL_TTL_SECONDS,
    RESPONSE_URL_USES,
    TEAM_DOMAIN,
    Workspace,
    channel_name,
)

SLACK_ACK_SECONDS = 3.0  # Slack shows the user an error when the app takes longer to acknowledge
INPUT_ELEMENT_TYPES = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}


class InteractionError(Exception):
    """The simulated user cannot do that (unknown message, closed modal...): HTTP 4xx from /_sim/*."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


@dataclass
class Delivery:
    """What the app answered to one interaction."""

    status: int  # 0 when nothing answered (refused, timed out)
    body: Any  # parsed JSON when the answer was JSON, else the text
    elapsed_ms: int
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "body": self.body,
            "elapsed_ms": self.elapsed_ms,
            "late": self.elapsed_ms > SLACK_ACK_SECONDS * 1000,
            "error": self.error,
        }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature (v0)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def form_body(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def post_payload(url: str | None, secret: str, payload: dict[str, Any], *, timeout: float) -> Delivery:
    """POST one signed interaction; never raises for the app's failures, it reports them."""
    if not url:
        return Delivery(0, None, 0, "no interactions URL configured (POST /_sim/config)")
    if urlsplit(url).scheme not in ("http", "https"):
        return Delivery(0, None, 0, f"the interactions URL must be http(s): {url!r}")
    body = form_body(payload)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(secret, timestamp, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to the app
    started = time.monotonic()
    try:
        with opener.open(request, timeout=timeout) as answer:
            status, raw, content_type = answer.status, answer.read(), answer.headers.get("Content-Type", "")
        error = None
    except urllib.error.HTTPError as exc:
        status, raw, content_type = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        error = f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:  # refused, timed out, bad URL
        elapsed = int((time.monotonic() - started) * 1000)
        return Delivery(0, None, elapsed, f"{type(exc).__name__}: {exc}")
    elapsed = int((time.monotonic() - started) * 1000)
    return Delivery(status, _decode(raw, content_type), elapsed, error)


def _decode(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", "replace")
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _user_and_team(ws: Workspace, user_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    user = ws.users.get(user_id)
    if user is None:
        raise InteractionError(404, f"unknown user {user_id!r}: register it with POST /_sim/users first")
    team_id = user.get("team_id") or ws.team_id
    return (
        {"id": user["id"], "username": user["name"], "name": user["name"], "team_id": team_id},
        {"id": team_id, "domain": TEAM_DOMAIN},
    )


def find_button(
    blocks: list[dict[str, Any]], action_id: str, value: str | None = None, block_id: str | None = None
) -> tuple[dict[str, Any], str] | None:
    """The first button with that action_id (and that value and block, when given), with its block's id.

    A user can only press a button that is on the message: several buttons
    may share an action_id (one per refund), the value or block tells them apart.
    """
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "actions":
            elements = block.get("elements") or []
        elif block.get("type") == "section" and block.get("accessory"):
            elements = [block["accessory"]]
        else:
            continue
        this_block = str(block.get("block_id") or "")
        if block_id is not None and this_block != block_id:
            continue
        for element in elements:
            if not isinstance(element, dict) or element.get("type") != "button":
                continue
            if element.get("action_id") != action_id:
                continue
            if value is not None and element.get("value") != value:
                continue
            return element, this_block
    return None


def build_click(
    ws: Workspace,
    base_url: str,
    *,
    user: str,
    channel: str,
    ts: str,
    action_id: str,
    value: str | None = None,
    block_id: str | None = None,
) -> dict[str, Any]:
    """A block_actions payload for a button of a message (or of the user's ephemeral message)."""
    slack_user, team = _user_and_team(ws, user)
    message = ws.find_message(channel, ts)
    ephemeral = None
    if message is None:
        ephemeral = next(
            (e for e in ws.ephemerals if e["channel"] == channel and e["ts"] == ts and e["user"] == user), None
        )
        if ephemeral is None:
            raise InteractionError(404, f"no message {ts} in channel {channel}")
    blocks = (message or ephemeral or {}).get("blocks") or []
    found = find_button(blocks, action_id, value, block_id)
    if found is None:
        wanted = f"action_id {action_id!r}" + (f", value {value!r}" if value is not None else "")
        wanted += f", block_id {block_id!r}" if block_id is not None else ""
        raise InteractionError(404, f"message {ts} has no button with {wanted}")
    element, found_block_id = found
    action = {
        "type": "button",
        "action_id": action_id,
        "block_id": found_block_id,
        "text": copy.deepcopy(element.get("text") or {"type": "plain_text", "text": action_id, "emoji": True}),
        "value": element.get("value"),
        "action_ts": ws.next_ts(),
    }
    if element.get("style"):
        action["style"] = element["style"]
    if action["value"] is None:
        del action["value"]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": slack_user,
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral is not None,
        },
        "trigger_id": ws.new_trigger(user),
        "team": team,
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel_name(channel)},
        "state": {"values": {}},
        "response_url": ws.new_response_url(base_url, channel=channel, message_ts=ts, user=user),
        "actions": [action],
    }
    if message is not None:
        payload["message"] = {
            "type": "message",
            "subtype": "bot_message",
            "text": message["text"],
            "ts": message["ts"],
            "user": message["user"],
            "bot_id": message["bot_id"],
            "app_id": APP_ID,
            "blocks": copy.deepcopy(message["blocks"]),
        }
    return payload


_UNSET: Any = object()


def _checked(element: dict[str, Any], given: Any) -> list[dict[str, Any]]:
    """The selected options of a `checkboxes` element: the values given (a list), else its initial_options.

    Each is the option as the view defines it (value and text), as Slack
    sends it; a value the element does not offer cannot be ticked (422).
    """
    options = [o for o in element.get("options") or [] if isinstance(o, dict)]
    if given is _UNSET:
        wanted = [str(o.get("value")) for o in element.get("initial_options") or [] if isinstance(o, dict)]
    elif isinstance(given, list | tuple):
        wanted = [str(v) for v in given]
    else:
        raise InteractionError(422, "a checkboxes value is a list of the ticked options' values")
    offered = {str(o.get("value")): o for o in options}
    unknown = [v for v in wanted if v not in offered]
    if unknown:
        raise InteractionError(422, f"no such option: {unknown[0]!r}")
    return [
        {"value": str(o.get("value")), "text": copy.deepcopy(o.get("text"))}
        for o in options
        if str(o.get("value")) in wanted
    ]


def input_state(view: dict[str, Any], values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """view.state.values for a submission: the given values, else each input's initial value.

    Text inputs take a string; `checkboxes` a list of the ticked options'
    values (state: {"type": "checkboxes", "selected_options": [{value, text}]}).

    Raises InteractionError when a required input is empty or a length limit
    is broken - Slack's client refuses to submit such a modal at all.
    """
    state: dict[str, Any] = {}
    missing = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block.get("element") or {}
        block_id, action_id = str(block.get("block_id") or ""), str(element.get("action_id") or "")
        kind = element.get("type") or "plain_text_input"
        if kind == "checkboxes":
            selected = _checked(element, (values.get(block_id) or {}).get(action_id, _UNSET))
            if not selected and not block.get("optional"):
                missing[block_id] = "Please complete this required field."
            state.setdefault(block_id, {})[action_id] = {"type": kind, "selected_options": selected}
            continue
        given = (values.get(block_id) or {}).get(action_id, element.get("initial_value"))
        value = None if given in (None, "") else str(given)
        if value is None and not block.get("optional"):
            missing[block_id] = "Please complete this required field."
        elif value is not None and len(value) < int(element.get("min_length") or 0):
            missing[block_id] = f"Must be at least {element['min_length']} characters."
        elif value is not None and element.get("max_length") and len(value) > int(element["max_length"]):
            missing[block_id] = f"Must be at most {element['max_length']} characters."
        if kind in INPUT_ELEMENT_TYPES:
            state.setdefault(block_id, {})[action_id] = {"type": kind, "value": value}
    if missing:
        raise InteractionError(422, "the modal cannot be submitted", errors=missing)
    return state


def build_submission(ws: Workspace, *, view_id: str, user: str, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A view_submission payload for the user's open modal."""
    record = ws.views.get(view_id)
    if record is None:
        raise InteractionError(404, f"no view {view_id}")
    if record["user"] != user:
        raise InteractionError(403, f"view {view_id} belongs to {record['user']}, not {user}")
    if record["state"] != "open":
        raise InteractionError(409, f"view {view_id} is closed")
    slack_user, team = _user_and_team(ws, user)
    view = copy.deepcopy(record["view"])
    view["state"] = {"values": input_state(view, values)}
    return {
        "type": "view_submission",
        "team": team,
        "user": slack_user,
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "trigger_id": ws.new_trigger(user),
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def build_closed(ws: Workspace, *, view_id: str, user: str) -> dict[str, Any]:
    """A view_closed payload (sent only when the modal asked for it with notify_on_close)."""
    record = ws.views[view_id]
    slack_user, team = _user_and_team(ws, user)
    return {
        "type": "view_closed",
        "team": team,
        "user": slack_user,
        "api_app_id": APP_ID,
        "view": copy.deepcopy(record["view"]),
        "is_cleared": False,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def apply_submission_answer(ws: Workspace, view_id: str, delivery: Delivery) -> None:
    """The modal after the app's answer: errors keep it open, an update replaces it, anything else closes it.

    A failed answer (not 2xx, or no answer) leaves it open as it was: Slack
    shows "We had some trouble connecting" and the user may submit again.
    """
    record = ws.views[view_id]
    record["submissions"] += 1
    if not 200 <= delivery.status < 300:
        return
    answer = delivery.body if isinstance(delivery.body, dict) else {}
    action = answer.get("response_action")
    if action == "errors":
        record["errors"] = dict(answer.get("errors") or {})
        return
    if action in ("update", "push") and isinstance(answer.get("view"), dict):
        new = answer["view"]
        record["view"].update(
            {
                key: new.get(key, default)
                for key, default in (
                    ("title", record["view"]["title"]),
                    ("submit", None),
                    ("close", None),
                    ("blocks", []),
                    ("callback_id", ""),
                    ("private_metadata", ""),
                )
            }
        )
        record["errors"], record["draft"] = {}, {}
        return
    if action == "clear":
        for other in ws.views.values():
            if other["user"] == record["user"]:
                other["state"] = "closed"
    record["state"] = "closed"
    record["errors"] = {}


def apply_response_url(ws: Workspace, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A POST to a response_url: replace or delete the original message, or post a new (ephemeral) one."""
    entry = ws.response_urls.get(token)
    if entry is None:
        return 404, {"ok": False, "error": "invalid_response_url"}
    if ws.now() - entry.issued_at > RESPONSE_URL_TTL_SECONDS or entry.uses >= RESPONSE_URL_USES:
        return 404, {"ok": False, "error": "expired_url"}
    entry.uses += 1
    message = ws.find_message(entry.channel, entry.message_ts)
    text, blocks = str(body.get("text") or ""), body.get("blocks")
    if body.get("delete_original"):
        if message is not None:
            ws.messages[entry.channel].remove(message)
        return 200, {"ok": True}
    if body.get("replace_original"):
        if message is None:
            return 404, {"ok": False, "error": "message_not_found"}
        message["text"] = text
        message["blocks"] = blocks or []
        message["updates"] += 1
        return 200, {"ok": True}
    if body.get("response_type") == "in_channel":
        ws.messages.setdefault(entry.channel, []).append(
            {
                "channel": entry.channel,
                "ts": ws.next_ts(),
                "text": text,
                "blocks": blocks or [],
                "updates": 0,
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "type": "message",
                "thread_ts": body.get("thread_ts"),
                "metadata": None,
            }
        )
        return 200, {"ok": True}
    ws.ephemerals.append(
        {
            "channel": entry.channel,
            "user": entry.user,
            "ts": ws.next_ts(),
            "text": text,
            "blocks": blocks or [],
            "thread_ts": None,
        }
    )
    return 200, {"ok": True}
