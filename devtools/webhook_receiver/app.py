"""The webhook receiver's behaviour, without sockets (see `server.py`): a request in, an answer out.

Every request to a path outside /_recv/ is recorded (method, path, query,
headers, raw body, received_at, the answer given) and answered by the mode of
its path: a status, a delay before answering, or a redirect. Modes are per
path, so two endpoints of two merchants can share one receiver (/a and /b)
and behave differently. With secrets (per path, or for every path), each
request's Standard Webhooks signature is checked on arrival with the
`standardwebhooks` library and the result kept beside it.

    POST /_recv/mode       {"path": "/a", "status": 500, "delay_seconds": 0, "redirect_to": null, "hold": false}
                           (no path: the default of every path without its own); with "hold": true the
                           answer waits until POST /_recv/release, at most delay_seconds
    POST /_recv/release    {"path": "/a"}: let the held requests of that path answer
    GET  /_recv/mode       the modes
    POST /_recv/secrets    {"path": "/a", "secrets": ["whsec_…", …]} (no path: every path)
    GET  /_recv/requests   ?path=/a: the requests received, oldest first (body as text)
    POST /_recv/reset      forget requests, modes and secrets given over HTTP
    GET  /_recv/health
    GET  /_recv/           the deliveries as a page, with ✓/✗ "signature verified"
"""

from __future__ import annotations

import html
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

MAX_DELAY = 120.0  # seconds: a slow receiver, not a hung one
MAX_KEPT = 10_000  # requests kept in memory; the oldest go first
DEFAULT = "*"  # the mode key of every path without one of its own


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0  # the server sleeps this long before answering
    hold: threading.Event | None = None  # set: answer at once, before the delay is over


def _json(status: int, data: Any) -> Answer:
    return Answer(status, json.dumps(data).encode())


def _mode_default() -> dict[str, Any]:
    return {"status": 200, "delay_seconds": 0.0, "redirect_to": None, "hold": False}


def verify(secrets: list[str], headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    """Check the signature with each secret: {"verified": bool | None, "verified_by": [indexes], "error": …}.

    None when there is no secret to check with (or the library is missing).
    """
    if not secrets:
        return {"verified": None, "verified_by": [], "error": ""}
    try:
        from standardwebhooks import Webhook
    except ImportError:  # pragma: no cover - the receiver runs without it, verifying nothing
        return {"verified": None, "verified_by": [], "error": "standardwebhooks is not installed"}
    lowered = {name.lower(): value for name, value in headers}
    verified_by, error = [], ""
    for index, secret in enumerate(secrets):
        try:
            Webhook(secret).verify(body, lowered)
        except Exception as exc:  # noqa: BLE001 - any failure is "not verified", with its reason shown
            error = error or f"{type(exc).__name__}: {exc}"
        else:
            verified_by.append(index)
    return {"verified": bool(verified_by), "verified_by": verified_by, "error": "" if verified_by else error}


class ReceiverApp:
    """In-memory state behind one lock; `handle` is called from many server threads at once."""

    def __init__(self, *, secrets: list[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._start_secrets = list(secrets or [])
        self._reset()

    def _reset(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.modes: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, list[str]] = {DEFAULT: list(self._start_secrets)} if self._start_secrets else {}
        for held in getattr(self, "holds", {}).values():
            held.set()  # nobody waits past a reset
        self.holds: dict[str, threading.Event] = {}
        self._next_id = 1

    # --- dispatch ------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Answer:
        if req.path == "/_recv" or req.path.startswith("/_recv/"):
            return self._control(req)
        return self._receive(req)

    def _control(self, req: Request) -> Answer:
        route = (req.method, req.path.rstrip("/") or "/")
        try:
            if route == ("GET", "/_recv"):
                return Answer(200, self.page().encode(), "text/html; charset=utf-8")
            if route == ("GET", "/_recv/health"):
                return _json(200, {"ok": True})
            if route == ("GET", "/_recv/requests"):
                path = parse_qs(req.query).get("path", [None])[0]
                with self._lock:
                    found = [r for r in self.requests if path is None or r["path"] == path]
                return _json(200, found)
            if route == ("GET", "/_recv/mode"):
                with self._lock:
                    return _json(200, dict(self.modes))
            if route == ("POST", "/_recv/mode"):
                return self._set_mode(_body_json(req))
            if route == ("POST", "/_recv/secrets"):
                data = _body_json(req)
                secrets = data.get("secrets")
                if not isinstance(secrets, list) or not all(isinstance(s, str) for s in secrets):
                    return _json(400, {"error": "secrets must be a list of strings"})
                with self._lock:
                    self.secrets[data.get("path") or DEFAULT] = secrets
                return _json(200, {"ok": True})
            if route == ("POST", "/_recv/release"):
                path = _body_json(req).get("path") or DEFAULT
                with self._lock:
                    held = self.holds.get(path)
                if held is not None:
                    held.set()
                return _json(200, {"ok": True, "released": held is not None})
            if route == ("POST", "/_recv/reset"):
                with self._lock:
                    self._reset()
                return _json(200, {"ok": True})
        except ValueError as exc:
            return _json(400, {"error": str(exc)})
        return _json(404, {"error": "not_found", "path": req.path})

    def _set_mode(self, data: dict[str, Any]) -> Answer:
        mode = _mode_default()
        status = data.get("status", 200)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError("status is an HTTP status, 100-599")
        delay = data.get("delay_seconds", 0) or 0
        if not isinstance(delay, int | float) or not 0 <= delay <= MAX_DELAY:
            raise ValueError(f"delay_seconds is a number from 0 to {MAX_DELAY:g}")
        redirect_to = data.get("redirect_to")
        if redirect_to is not None and not isinstance(redirect_to, str):
            raise ValueError("redirect_to is a URL")
        if redirect_to and not 300 <= status <= 399:
            status = 307  # a redirect keeps the method and body: the strongest temptation to follow it
        hold = bool(data.get("hold"))
        mode.update(status=status, delay_seconds=float(delay), redirect_to=redirect_to, hold=hold)
        key = data.get("path") or DEFAULT
        with self._lock:
            self.modes[key] = mode
            previous = self.holds.pop(key, None)
            if hold:
                self.holds[key] = threading.Event()
        if previous is not None:
            previous.set()
        return _json(200, mode)

    # --- the deliveries ------------------------------------------------------------------------------------

    def _receive(self, req: Request) -> Answer:
        with self._lock:
            key = req.path if req.path in self.modes else DEFAULT
            mode = self.modes.get(key) or _mode_default()
            held = self.holds.get(key) if mode["hold"] else None
            secrets = self.secrets.get(req.path) or self.secrets.get(DEFAULT) or []
            record_id = self._next_id
            self._next_id += 1
        check = verify(secrets, req.headers, req.body)
        webhook_id = next((v for k, v in req.headers if k.lower() == "webhook-id"), "")
        record = {
            "id": record_id,
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "headers": dict(req.headers),
            "body": req.body.decode("utf-8", errors="replace"),
            "received_at": datetime.now(UTC).isoformat(),
            "webhook_id": webhook_id,
            "answered_status": mode["status"],
            "delay_seconds": mode["delay_seconds"],
            "signature_verified": check["verified"],
            "verified_by": check["verified_by"],
            "verify_error": check["error"],
        }
        with self._lock:
            record["duplicate"] = bool(webhook_id) and any(
                r["webhook_id"] == webhook_id and r["path"] == req.path for r in self.requests
            )
            self.requests.append(record)
            del self.requests[:-MAX_KEPT]
        headers = {"Location": mode["redirect_to"]} if mode["redirect_to"] else {}
        answer = {"received": record_id, "status": mode["status"]}
        body = json.dumps(answer).encode()
        return Answer(mode["status"], body, headers=headers, delay_seconds=mode["delay_seconds"], hold=held)

    # --- the page ------------------------------------------------------------------------------------------

    def page(self) -> str:
        with self._lock:
            records = list(reversed(self.requests))
            modes = dict(self.modes)
        rows = []
        for r in records:
            mark = {True: "✓", False: "✗", None: "–"}[r["signature_verified"]]
            title = html.escape(r["verify_error"] or ("verified" if r["signature_verified"] else "no secret given"))
            try:
                event_type = json.loads(r["body"]).get("type", "")
            except (ValueError, AttributeError):
                event_type = ""
            rows.append(
                "<tr>"
                f"<td>{r['id']}</td><td>{html.escape(r['received_at'])}</td>"
                f"<td>{html.escape(r['method'])} {html.escape(r['path'])}</td>"
                f"<td><code>{html.escape(r['webhook_id'])}</code>{' (again)' if r['duplicate'] else ''}</td>"
                f"<td>{html.escape(str(event_type))}</td><td>{r['answered_status']}</td>"
                f"<td title='{title}'>{mark}</td>"
                f"<td><details><summary>body</summary><pre>{html.escape(r['body'])}</pre></details></td>"
                "</tr>"
            )
        mode_lines = "".join(
            f"<li><code>{html.escape(path)}</code>: {html.escape(json.dumps(mode))}</li>"
            for path, mode in modes.items()
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Webhook receiver</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}"
            "pre{white-space:pre-wrap;max-width:60em}</style></head><body>"
            f"<h1>Webhook receiver</h1><p>{len(records)} request(s), newest first. "
            "✓ signature verified, ✗ not verified, – no secret given. "
            "A webhook-id seen before on the same path is marked (again): deliveries are at-least-once.</p>"
            f"<ul>{mode_lines or '<li>every path answers 200</li>'}</ul>"
            "<table><tr><th>#</th><th>received at</th><th>request</th><th>webhook-id</th><th>type</th>"
            f"<th>answered</th><th>signature verified</th><th></th></tr>{''.join(rows)}</table></body></html>"
        )


def _body_json(req: Request) -> dict[str, Any]:
    try:
        data = json.loads(req.body or b"{}")
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body is a JSON object")
    return data
