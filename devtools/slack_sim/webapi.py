"""The Web API subset the app uses, answered in Slack's shapes: HTTP 200 with `ok`/`error` JSON.

Arguments arrive as slack_sdk sends them: JSON bodies (chat.*, views.open),
form bodies (auth.test) or query parameters (users.info, sent as a POST with
a query string) - `parse_arguments` merges all three, like Slack. The token is
the `Authorization: Bearer` header or a `token` argument.

A fault armed with `POST /_sim/faults` answers before anything else, as an
overloaded Slack would: 429 `ratelimited` with Retry-After, or a 5xx; or, with
an `error`, as a refusing one: HTTP 200 `{"ok": false, "error": …}`.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

from devtools.slack_sim.state import APP_ID, BOT_ID, BOT_NAME, BOT_USER_ID, TEAM_DOMAIN, Fault, Workspace

FAULT_ERRORS = {
    429: "ratelimited",
    500: "fatal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "request_timeout",
}


@dataclass
class ApiResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """A Slack error code; the call answers `{"ok": false, "error": code}` with HTTP 200."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


def parse_arguments(query: str, headers: Message, body: bytes) -> dict[str, Any]:
    """Query string, then a form or JSON body, merged (later wins), as Slack reads a call."""
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if body:
        if content_type == "application/json":
            try:
                decoded = json.loads(body)
            except ValueError as exc:
                raise ApiError("invalid_json") from exc
            if not isinstance(decoded, dict):
                raise ApiError("invalid_json")
            args.update(decoded)
        elif content_type in ("application/x-www-form-urlencoded", ""):
            args.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            raise ApiError("invalid_form_data")
    return args


def _json_arg(args: dict[str, Any], name: str) -> Any:
    """`blocks`/`view` come as objects in a JSON body and as JSON strings in a form body."""
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except ValueError as exc:
            raise ApiError(f"invalid_{name}") from exc
    return value


def _text_and_blocks(args: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    text = args.get("text")
    blocks = _json_arg(args, "blocks")
    if blocks is not None and (not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks)):
        raise ApiError("invalid_blocks")
    if not text and not blocks:
        raise ApiError("no_text")
    return str(text or ""), blocks or []


class WebApi:
    """One method per Web API method; `call` adds auth, faults and the call log around them."""

    def __init__(self, workspace: Workspace, *, token: str, base_url: Callable[[], str]) -> None:
        self.ws = workspace
        self.token = token
        self.base_url = base_url
        self.methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "views.open": self.views_open,
            "users.info": self.users_info,
        }

    def call(self, method: str, query: str, headers: Message, body: bytes) -> ApiResult:
        with self.ws.lock:
            fault = self.ws.take_fault(method)
        if fault is not None and fault.delay:
            # A slow Slack: the caller's own timeout is what is tested, so the real clock, and no lock held.
            time.sleep(fault.delay)
        with self.ws.lock:
            result = self._answer(method, query, headers, body, fault=fault)
            self.ws.record_call(
                {
                    "method": method,
                    "ok": bool(result.body.get("ok")),
                    "error": result.body.get("error"),
                    "status": result.status,
                    "time": self.ws.now(),
                    "args": result.body.pop("_args", {}),
                }
            )
            return result

    def _answer(self, method: str, query: str, headers: Message, body: bytes, *, fault: Fault | None) -> ApiResult:
        if fault is not None and fault.status:
            extra = {"Retry-After": str(fault.retry_after)} if fault.status == 429 and fault.retry_after else {}
            error = fault.error or FAULT_ERRORS.get(fault.status, "fatal_error")
            return ApiResult(fault.status, {"ok": False, "error": error}, extra)
        args: dict[str, Any] = {}
        try:
            args = parse_arguments(query, headers, body)
            token = args.pop("token", None)
            auth = headers.get("Authorization") or ""
            if auth.lower().startswith("bearer "):
                token = auth[7:].strip()
            if not token:
                raise ApiError("not_authed")
            if token != self.token:
                raise ApiError("invalid_auth")
            handler = self.methods.get(method)
            if handler is None:
                raise ApiError("unknown_method")
            answer = {"ok": True, **handler(args)}
        except ApiError as exc:
            answer = {"ok": False, "error": exc.code, **exc.extra}
        answer["_args"] = args
        return ApiResult(200, answer)

    # --- the methods ---------------------------------------------------------------------------------------

    def auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Refund desk (simulated)",
            "user": BOT_NAME,
            "team_id": self.ws.team_id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            raise ApiError("channel_not_found")
        text, blocks = _text_and_blocks(args)
        ts = self.ws.next_ts()
        message = {
            "channel": channel,
            "ts": ts,
            "text": text,
            "blocks": blocks,
            "updates": 0,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "type": "message",
            "thread_ts": args.get("thread_ts") or None,
            "metadata": _json_arg(args, "metadata"),
        }
        self.ws.messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": ts, "message": _wire_message(message)}

    def chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        if not channel:
            raise ApiError("channel_not_found")
        message = self.ws.find_message(channel, ts)
        if message is None:
            raise ApiError("message_not_found")
        if "text" not in args and "blocks" not in args:
            raise ApiError("no_text")
        if "text" in args:
            message["text"] = str(args.get("text") or "")
        if "blocks" in args:
            blocks = _json_arg(args, "blocks") or []
            if not isinstance(blocks, list):
                raise ApiError("invalid_blocks")
            message["blocks"] = blocks
        message["updates"] += 1
        return {"channel": channel, "ts": ts, "text": message["text"], "message": _wire_message(message)}

    def chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, user = str(args.get("channel") or ""), str(args.get("user") or "")
        if not channel:
            raise ApiError("channel_not_found")
        if user not in self.ws.users:
            # Slack shows an ephemeral message only to a member of the channel; here every registered user is one.
            raise ApiError("user_not_in_channel")
        text, blocks = _text_and_blocks(args)
        ts = self.ws.next_ts()
        self.ws.ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "ts": ts,
                "text": text,
                "blocks": blocks,
                "thread_ts": args.get("thread_ts") or None,
            }
        )
        return {"message_ts": ts}

    def views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _json_arg(args, "view")
        if not isinstance(view, dict):
            raise ApiError(
                "invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: view"]}
            )
        if view.get("type") != "modal" or not isinstance(view.get("title"), dict):
            raise ApiError(
                "invalid_arguments", response_metadata={"messages": ["[ERROR] a modal needs type and title"]}
            )
        trigger_id = str(args.get("trigger_id") or "")
        trigger = self.ws.triggers.get(trigger_id)
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.exchanged:
            raise ApiError("exchanged_trigger_id")
        if self.ws.now() - trigger.issued_at > self.ws.trigger_ttl:
            raise ApiError("expired_trigger_id")
        trigger.exchanged = True
        # A new root modal replaces whatever the user had open (Slack closes it).
        for other in self.ws.views.values():
            if other["user"] == trigger.user and other["state"] == "open":
                other["state"] = "closed"
        view_id = self.ws.new_view_id()
        stored = {
            "id": view_id,
            "team_id": self.ws.team_id,
            "type": "modal",
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks") or [],
            "callback_id": view.get("callback_id", ""),
            "private_metadata": view.get("private_metadata", ""),
            "external_id": view.get("external_id", ""),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "state": {"values": {}},
            "hash": f"{int(self.ws.now())}.{view_id.lower()}",
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }
        self.ws.views[view_id] = {
            "id": view_id,
            "user": trigger.user,
            "view": stored,
            "state": "open",
            "errors": {},
            "opened_at": self.ws.now(),
            "submissions": 0,
        }
        return {"view": copy.deepcopy(stored)}

    def users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.ws.users.get(str(args.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": copy.deepcopy(user)}


def _wire_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as chat.postMessage / chat.update return it."""
    wire = {
        "type": "message",
        "subtype": "bot_message",
        "text": message["text"],
        "ts": message["ts"],
        "user": message["user"],
        "bot_id": message["bot_id"],
        "app_id": APP_ID,
        "blocks": copy.deepcopy(message["blocks"]),
    }
    if message.get("thread_ts"):
        wire["thread_ts"] = message["thread_ts"]
    return wire


def public_message(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message as GET /_sim/messages lists it."""
    return copy.deepcopy(message)
