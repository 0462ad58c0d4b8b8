"""Routing: the Web API under /api/, the test and demo endpoints under /_sim/, the channel page.

No sockets here (see `server.py`): a request in, a `SimResponse` out. The
/_sim/ endpoints are the simulator's own (Slack has nothing like them); they
take and give JSON, except the page's form endpoints (/_sim/ui/*), which
take HTML form posts and redirect back to the page.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from devtools.slack_sim import interactions, page
from devtools.slack_sim.interactions import Delivery, InteractionError
from devtools.slack_sim.state import DEFAULT_TEAM_ID, Fault, Workspace, user_object
from devtools.slack_sim.webapi import FAULT_ERRORS, WebApi, public_message

STATIC = Path(__file__).resolve().parent / "static"
_API_PATH = re.compile(r"^/api/([A-Za-z0-9_.]+)$")
_RESPOND_PATH = re.compile(r"^/_sim/respond/([A-Za-z0-9_-]+)$")
MAX_FAULT_DELAY = 60.0  # seconds: a slow Slack, not a hung one
_USER_FLAGS = ("is_bot", "deleted", "is_restricted", "is_ultra_restricted", "is_email_confirmed", "is_admin")


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator can be told on its command line."""

    signing_secret: str
    token: str
    host: str = "127.0.0.1"
    port: int = 8790
    interactions_url: str | None = None
    team_id: str = DEFAULT_TEAM_ID
    interaction_timeout: float = 10.0
    users: tuple[tuple[str, str, str], ...] = ()  # (id, email, name): members from the start


@dataclass
class SimRequest:
    method: str
    path: str
    query: str
    headers: Message
    body: bytes


@dataclass
class SimResponse:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> SimResponse:
    return SimResponse(status, json.dumps(data).encode(), "application/json; charset=utf-8", headers or {})


def _error(status: int, message: str, **extra: Any) -> SimResponse:
    return json_response(status, {"ok": False, "error": message, **extra})


def _redirect(location: str) -> SimResponse:
    return SimResponse(303, b"", "text/plain", {"Location": location})


class SlackSimulatorApp:
    """The simulator's behaviour; `base_url` is set by the server once it listens."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.base_url = f"http://{config.host}:{config.port}"
        self.ws = Workspace(team_id=config.team_id, interactions_url=config.interactions_url)
        for user_id, email, name in config.users:
            self.ws.users[user_id] = user_object(id=user_id, email=email, name=name, team_id=config.team_id)
        self.ws.remember_defaults()
        self.api = WebApi(self.ws, token=config.token, base_url=lambda: self.base_url)

    def handle(self, req: SimRequest) -> SimResponse:
        match = _API_PATH.match(req.path)
        if match:
            if req.method not in ("GET", "POST"):
                return _error(405, "method_not_allowed")
            result = self.api.call(match.group(1), req.query, req.headers, req.body)
            return json_response(result.status, result.body, result.headers)
        match = _RESPOND_PATH.match(req.path)
        if match and req.method == "POST":
            return self._respond(match.group(1), req)
        route = self._routes().get((req.method, req.path.rstrip("/") or "/"))
        if route is None:
            return _error(404, "not_found", path=req.path)
        try:
            return route(req)
        except InteractionError as exc:
            return _error(exc.status, exc.message, **exc.extra)
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f"bad request: {exc}")

    def _routes(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/"): lambda req: _redirect("/_sim/"),
            ("GET", "/favicon.ico"): lambda req: SimResponse(204, b"", "text/plain"),
            ("GET", "/_sim"): self._page,
            ("GET", "/_sim/static/slack_sim.css"): self._css,
            ("GET", "/_sim/health"): self._health,
            ("GET", "/_sim/users"): self._users,
            ("POST", "/_sim/users"): self._add_user,
            ("GET", "/_sim/messages"): self._messages,
            ("GET", "/_sim/ephemeral"): self._ephemeral,
            ("GET", "/_sim/views"): self._views,
            ("GET", "/_sim/calls"): self._calls,
            ("GET", "/_sim/faults"): self._faults,
            ("POST", "/_sim/faults"): self._add_fault,
            ("DELETE", "/_sim/faults"): self._clear_faults,
            ("GET", "/_sim/config"): self._get_config,
            ("POST", "/_sim/config"): self._set_config,
            ("POST", "/_sim/reset"): self._reset,
            ("POST", "/_sim/clock"): self._clock,
            ("POST", "/_sim/click"): self._click,
            ("POST", "/_sim/submit"): self._submit,
            ("POST", "/_sim/close"): self._close,
            ("POST", "/_sim/ui/click"): self._ui_click,
            ("POST", "/_sim/ui/submit"): self._ui_submit,
            ("POST", "/_sim/ui/close"): self._ui_close,
            ("POST", "/_sim/ui/users"): self._ui_add_user,
        }

    # --- reading the state ---------------------------------------------------------------------------------

    @staticmethod
    def _query(req: SimRequest) -> dict[str, str]:
        return dict(parse_qsl(req.query, keep_blank_values=True))

    @staticmethod
    def _json(req: SimRequest) -> dict[str, Any]:
        if not req.body:
            return {}
        data = json.loads(req.body)
        if not isinstance(data, dict):
            raise ValueError("a JSON object is expected")
        return data

    def _health(self, req: SimRequest) -> SimResponse:
        with self.ws.lock:
            count = sum(len(m) for m in self.ws.messages.values())
            return json_response(
                200,
                {
                    "ok": True,
                    "team_id": self.ws.team_id,
                    "messages": count,
                    "interactions_url": self.ws.interactions_url,
                },
            )

    def _users(self, req: SimRequest) -> SimResponse:
        with self.ws.lock:
            return json_response(200, list(self.ws.users.values()))

    def _add_user(self, req: SimRequest) -> SimResponse:
        data = self._json(req)
        for key in ("id", "email", "name"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValueError(f"{key} (a non-empty string) is required")
        flags = {key: bool(data[key]) for key in _USER_FLAGS if key in data}
        extra = {key: str(data[key]) for key in ("real_name", "display_name", "tz") if data.get(key) is not None}
        with self.ws.lock:
            user = user_object(
                id=data["id"],
                email=data["email"],
                name=data["name"],
                team_id=str(data.get("team_id") or self.ws.team_id),
                **flags,
                **extra,
            )
            self.ws.users[user["id"]] = user
        return json_response(200, user)

    def _messages(self, req: SimRequest) -> SimResponse:
        channel = self._query(req).get("channel")
        with self.ws.lock:
            if channel:
                found = self.ws.messages.get(channel, [])
            else:
                found = sorted((m for ms in self.ws.messages.values() for m in ms), key=lambda m: m["ts"])
            return json_response(200, [public_message(m) for m in found])

    def _ephemeral(self, req: SimRequest) -> SimResponse:
        query = self._query(req)
        with self.ws.lock:
            found = [
                e
                for e in self.ws.ephemerals
                if (not query.get("channel") or e["channel"] == query["channel"])
                and (not query.get("user") or e["user"] == query["user"])
            ]
            return json_response(200, found)

    def _views(self, req: SimRequest) -> SimResponse:
        with self.ws.lock:
            return json_response(200, self.ws.user_views(self._query(req).get("user") or None))

    def _calls(self, req: SimRequest) -> SimResponse:
        method = self._query(req).get("method")
        with self.ws.lock:
            return json_response(200, [c for c in self.ws.calls if not method or c["method"] == method])

    # --- steering it ---------------------------------------------------------------------------------------

    def _faults(self, req: SimRequest) -> SimResponse:
        with self.ws.lock:
            return json_response(200, [f.as_dict() for f in self.ws.faults if f.count > 0])

    def _add_fault(self, req: SimRequest) -> SimResponse:
        data = self._json(req)
        error = str(data.get("error") or "") or None
        status = int(data.get("status") or (200 if error else 0))
        delay = float(data.get("delay") or 0)
        if not 0 <= delay <= MAX_FAULT_DELAY:
            raise ValueError(f"delay is 0 to {MAX_FAULT_DELAY} seconds")
        if error is not None and status != 200:
            raise ValueError("error goes with status 200 (Slack's answer to a call it refuses)")
        if error is None and status not in FAULT_ERRORS and not (status == 0 and delay):
            raise ValueError(f"status must be one of {sorted(FAULT_ERRORS)} (or 0 with a delay: served late)")
        if int(data.get("count", 1)) < 1:
            raise ValueError("count must be at least 1")
        retry_after = data.get("retry_after")
        if retry_after is not None and status != 429:
            raise ValueError("retry_after goes with status 429 only")
        fault = Fault(
            method=str(data.get("method") or "*"),
            status=status,
            count=int(data.get("count", 1)),
            retry_after=int(retry_after) if retry_after is not None else None,
            delay=delay,
            error=error,
        )
        with self.ws.lock:
            self.ws.faults.append(fault)
        return json_response(200, fault.as_dict())

    def _clear_faults(self, req: SimRequest) -> SimResponse:
        with self.ws.lock:
            self.ws.faults.clear()
        return json_response(200, {"ok": True})

    def _get_config(self, req: SimRequest) -> SimResponse:
        with self.ws.lock:
            return json_response(
                200, {"interactions_url": self.ws.interactions_url, "trigger_ttl": self.ws.trigger_ttl}
            )

    def _set_config(self, req: SimRequest) -> SimResponse:
        data = self._json(req)
        with self.ws.lock:
            if "interactions_url" in data:
                self.ws.interactions_url = data["interactions_url"] or None
            if "trigger_ttl" in data:
                self.ws.trigger_ttl = float(data["trigger_ttl"])
        return self._get_config(req)

    def _reset(self, req: SimRequest) -> SimResponse:
        with self.ws.lock:
            self.ws.reset()
        return json_response(200, {"ok": True})

    def _clock(self, req: SimRequest) -> SimResponse:
        """Move the simulator's clock forward (expires triggers and response URLs without sleeping)."""
        advance = float(self._json(req).get("advance", 0))
        with self.ws.lock:
            self.ws.clock_offset += advance
            return json_response(200, {"clock_offset": self.ws.clock_offset})

    # --- the simulated user --------------------------------------------------------------------------------

    def click(self, data: dict[str, Any]) -> dict[str, Any]:
        """A user clicks a button: the app receives a signed block_actions payload; its answer comes back."""
        with self.ws.lock:
            payload = interactions.build_click(
                self.ws,
                self.base_url,
                user=str(data["user"]),
                channel=str(data["channel"]),
                ts=str(data["ts"]),
                action_id=str(data["action_id"]),
                value=None if data.get("value") is None else str(data["value"]),
                block_id=None if data.get("block_id") is None else str(data["block_id"]),
            )
            url = self.ws.interactions_url
        delivery = self._post(url, payload)
        return {**delivery.as_dict(), "trigger_id": payload["trigger_id"], "payload": payload}

    def submit(self, data: dict[str, Any]) -> dict[str, Any]:
        """A user submits their modal: the app's answer decides whether it closes or shows errors."""
        view_id, user = str(data["view_id"]), str(data["user"])
        values = data.get("values") or {}
        if not isinstance(values, dict):
            raise ValueError("values is {block_id: {action_id: value, or [values] of checkboxes}}")
        with self.ws.lock:
            record = self.ws.views.get(view_id)
            if record is not None and record["user"] == user:
                # What the user typed stays in the fields while the modal is open (Slack keeps it too).
                record["draft"] = {
                    b: {a: [str(x) for x in v] if isinstance(v, list) else str(v) for a, v in (vs or {}).items()}
                    for b, vs in values.items()
                }
            payload = interactions.build_submission(self.ws, view_id=view_id, user=user, values=values)
            url = self.ws.interactions_url
        delivery = self._post(url, payload)
        with self.ws.lock:
            interactions.apply_submission_answer(self.ws, view_id, delivery)
            record = self.ws.views[view_id]
            after = {"view_state": record["state"], "errors": dict(record["errors"])}
        return {**delivery.as_dict(), **after, "payload": payload}

    def close(self, data: dict[str, Any]) -> dict[str, Any]:
        """A user cancels their modal; the app hears of it only when the view asked (notify_on_close)."""
        view_id, user = str(data["view_id"]), str(data["user"])
        with self.ws.lock:
            record = self.ws.views.get(view_id)
            if record is None or record["user"] != user:
                raise InteractionError(404, f"no view {view_id} for {user}")
            if record["state"] != "open":
                raise InteractionError(409, f"view {view_id} is closed")
            record["state"] = "closed"
            notify = record["view"].get("notify_on_close")
            payload = interactions.build_closed(self.ws, view_id=view_id, user=user) if notify else None
            url = self.ws.interactions_url
        if payload is None:
            return {"status": None, "body": None, "notified": False}
        return {**self._post(url, payload).as_dict(), "notified": True}

    def _post(self, url: str | None, payload: dict[str, Any]) -> Delivery:
        return interactions.post_payload(
            url, self.config.signing_secret, payload, timeout=self.config.interaction_timeout
        )

    def _click(self, req: SimRequest) -> SimResponse:
        return json_response(200, self.click(self._json(req)))

    def _submit(self, req: SimRequest) -> SimResponse:
        return json_response(200, self.submit(self._json(req)))

    def _close(self, req: SimRequest) -> SimResponse:
        return json_response(200, self.close(self._json(req)))

    def _respond(self, token: str, req: SimRequest) -> SimResponse:
        try:
            body = self._json(req)
        except ValueError:
            return _error(400, "invalid_payload")
        with self.ws.lock:
            status, answer = interactions.apply_response_url(self.ws, token, body)
        return json_response(status, answer)

    # --- the page ------------------------------------------------------------------------------------------

    def _page(self, req: SimRequest) -> SimResponse:
        query = self._query(req)
        with self.ws.lock:
            html = page.render(
                self.ws, channel=query.get("channel"), user=query.get("user"), notice=query.get("notice")
            )
        return SimResponse(200, html.encode(), "text/html; charset=utf-8", page.SECURITY_HEADERS)

    def _css(self, req: SimRequest) -> SimResponse:
        css = (STATIC / "slack_sim.css").read_bytes()
        return SimResponse(200, css, "text/css; charset=utf-8", {"Cache-Control": "no-cache"})

    @staticmethod
    def _form(req: SimRequest) -> dict[str, str]:
        return dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))

    @staticmethod
    def _back(form: dict[str, str], notice: str | None = None) -> SimResponse:
        params = {k: form[k] for k in ("channel", "user") if form.get(k)}
        if notice:
            params["notice"] = notice
        return _redirect("/_sim/" + ("?" + urlencode(params) if params else ""))

    def _ui_click(self, req: SimRequest) -> SimResponse:
        form = self._form(req)
        try:
            result = self.click(form)
        except InteractionError as exc:
            return self._back(form, exc.message)
        return self._back(form, _delivery_notice(result))

    def _ui_submit(self, req: SimRequest) -> SimResponse:
        form = self._form(req)
        values: dict[str, dict[str, Any]] = {}
        for key, value in form.items():
            if key.startswith("v:"):
                _, block_id, action_id = key.split(":", 2)
                values.setdefault(block_id, {})[action_id] = value
        # Checkboxes ("c:" fields): every ticked box is one pair; a hidden empty one says the group was shown.
        for key, value in parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True):
            if key.startswith("c:"):
                _, block_id, action_id = key.split(":", 2)
                ticked = values.setdefault(block_id, {}).setdefault(action_id, [])
                if value:
                    ticked.append(value)
        try:
            result = self.submit({"view_id": form["view_id"], "user": form["user"], "values": values})
        except InteractionError as exc:
            if exc.extra.get("errors"):  # Slack's client marks the empty required fields itself
                with self.ws.lock:
                    record = self.ws.views.get(form["view_id"])
                    if record is not None:
                        record["errors"] = dict(exc.extra["errors"])
            return self._back(form, exc.message)
        return self._back(form, _delivery_notice(result))

    def _ui_add_user(self, req: SimRequest) -> SimResponse:
        """The page's "Add a user" form: a new member with a fresh id, then the page as that user."""
        form = self._form(req)
        user_id = "U" + secrets.token_hex(4).upper()
        body = json.dumps({"id": user_id, "email": form.get("email", ""), "name": form.get("name", "")}).encode()
        try:
            self._add_user(SimRequest("POST", "/_sim/users", "", req.headers, body))
        except ValueError as exc:
            return self._back(form, str(exc))
        return self._back({**form, "user": user_id})

    def _ui_close(self, req: SimRequest) -> SimResponse:
        form = self._form(req)
        try:
            self.close(form)
        except InteractionError as exc:
            return self._back(form, exc.message)
        return self._back(form)


def _delivery_notice(result: dict[str, Any]) -> str | None:
    """A line for the page when the app did not acknowledge properly (Slack shows a warning then)."""
    if result.get("error") and not result.get("status"):
        return f"The app did not answer: {result['error']}"
    if result.get("status") and not 200 <= result["status"] < 300:
        return f"The app answered HTTP {result['status']}"
    if result.get("late"):
        return f"The app took {result['elapsed_ms']} ms (Slack gives up after 3 s)"
    return None
