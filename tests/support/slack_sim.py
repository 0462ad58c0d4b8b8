"""The one launcher of the Slack simulator process, for tests (docs/slack.md, "The simulator").

The simulator (`python -m devtools.slack_sim.server`) starts on port 0 and
announces its URL on stdout once it listens, so a start waits for exactly
that line. The port it got is kept: `stop()` then `start()` binds the same
port again, which is what a Slack outage looks like to an app configured
with its URL (its state is in memory: it comes back empty).

The helpers wrap the simulator's /_sim/ endpoints; the app itself talks to
`api_base` with slack_sdk, and receives clicks and submissions at the URL
given to `configure()`. Stdlib and `requests` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.support.child_process import ROOT, AnnouncedProcess

TOKEN = "xoxb-test-slack-sim"
SIGNING_SECRET = "test-slack-signing-secret"
APPROVALS_CHANNEL = "C0APPROVALS"
__all__ = ["APPROVALS_CHANNEL", "ROOT", "SIGNING_SECRET", "TOKEN", "InteractionReceiver", "SlackSimulator"]
_KEEP: Any = object()  # configure(): leave the interactions URL as it is


class SlackSimulator(AnnouncedProcess):
    """The Slack simulator as a child process; restartable on the same port."""

    what = "Slack simulator"

    def __init__(
        self,
        *,
        log_path: Path,
        token: str = TOKEN,
        signing_secret: str = SIGNING_SECRET,
        interactions_url: str | None = None,
        port: int = 0,
        team_id: str = "T0SIM",
        env: dict[str, str] | None = None,
    ) -> None:
        # Its stderr (one line per request) is the first place to look when a test fails.
        super().__init__(log_path=log_path, port=port, env=env)
        self.token = token
        self.signing_secret = signing_secret
        self.interactions_url = interactions_url
        self.team_id = team_id
        self._session = requests.Session()
        self._session.trust_env = False  # loopback, never through a proxy

    # --- the process ---------------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        """What SLACK_API_BASE is set to: slack_sdk appends the method name."""
        return self.url + "/api/"

    def command(self) -> list[str]:
        args = [
            "devtools.slack_sim.server", "--port", str(self.port),
            "--signing-secret", self.signing_secret, "--token", self.token, "--team-id", self.team_id,
        ]  # fmt: skip
        if self.interactions_url:
            args += ["--interactions-url", self.interactions_url]
        return args

    # --- talking to it -------------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A raw HTTP call to the simulator (for protocol-level assertions)."""
        return self._session.request(method, self.url + path, timeout=kwargs.pop("timeout", 30), **kwargs)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path} -> HTTP {response.status_code}: {response.text}")
        return response.json()

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/_sim/health")

    def reset(self) -> None:
        """Forget users, messages, modals, faults and calls; the interactions URL goes back to the start's."""
        self._json("POST", "/_sim/reset")

    def configure(self, interactions_url: Any = _KEEP, **options: Any) -> dict[str, Any]:
        """Where clicks and submissions go (the app's /integrations/slack/interactions), set at runtime.

        None sends them nowhere; left out, the URL stays. `trigger_ttl=` changes the 3 s of a trigger_id.
        """
        body = dict(options) if interactions_url is _KEEP else {"interactions_url": interactions_url, **options}
        return self._json("POST", "/_sim/config", json=body)

    def add_user(self, id: str, email: str, name: str, **extra: Any) -> dict[str, Any]:
        """Register a workspace member (users.info answers for it; it may click). Returns the Slack user object."""
        return self._json("POST", "/_sim/users", json={"id": id, "email": email, "name": name, **extra})

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages posted to `channel` (all when None), each with its updates applied and counted."""
        return self._json("GET", "/_sim/messages", params={"channel": channel} if channel else {})

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("channel", channel), ("user", user)) if v}
        return self._json("GET", "/_sim/ephemeral", params=params)

    def views(self, user: str | None = None) -> list[dict[str, Any]]:
        """Modals opened (for `user`): id, user, view, state ("open"/"closed"), errors."""
        return self._json("GET", "/_sim/views", params={"user": user} if user else {})

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every Web API call in order: method, ok, error, status, time, args (without the token)."""
        return self._json("GET", "/_sim/calls", params={"method": method} if method else {})

    def fault(
        self,
        method: str,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
        error: str | None = None,
    ) -> dict[str, Any]:
        """The next `count` calls of `method` ("*": any) fail with `status` (429 with Retry-After, or 5xx).

        `delay` seconds (the real clock) before the answer; status 0 with a delay serves the call, late.
        With `error` (and status 200): Slack's refusal `{"ok": false, "error": error}` (`is_archived` …).
        """
        body = {
            "method": method,
            "status": status,
            "count": count,
            "retry_after": retry_after,
            "delay": delay,
            "error": error,
        }
        return self._json("POST", "/_sim/faults", json=body)

    def clear_faults(self) -> None:
        self._json("DELETE", "/_sim/faults")

    def advance_clock(self, seconds: float) -> None:
        """Move the simulator's clock forward: triggers older than 3 s expire, without a sleep."""
        self._json("POST", "/_sim/clock", json={"advance": seconds})

    def click(
        self,
        user: str,
        channel: str,
        ts: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
    ) -> dict[str, Any]:
        """`user` clicks the button `action_id` of message `ts`; returns the app's answer.

        The answer: status (0 when the app did not answer), body (JSON or
        text), elapsed_ms, late (> 3 s), error, trigger_id, payload.
        """
        body = {
            "user": user,
            "channel": channel,
            "ts": ts,
            "action_id": action_id,
            "value": value,
            "block_id": block_id,
        }
        return self._json("POST", "/_sim/click", json=body)

    def submit(self, view_id: str, user: str, values: dict[str, dict[str, str | list[str]]]) -> dict[str, Any]:
        """`user` submits modal `view_id` with {block_id: {action_id: value}}; returns the app's answer.

        A text input's value is a string; a `checkboxes` input's is the list
        of the ticked options' values ([] for none; left out: its initial_options).

        Besides the fields of `click`: view_state ("open" when the app
        answered errors, else "closed") and errors.
        """
        return self._json("POST", "/_sim/submit", json={"view_id": view_id, "user": user, "values": values})

    def close_view(self, view_id: str, user: str) -> dict[str, Any]:
        """`user` cancels the modal (the app hears of it only with notify_on_close)."""
        return self._json("POST", "/_sim/close", json={"view_id": view_id, "user": user})

    def open_view(self, user: str) -> dict[str, Any] | None:
        """The modal `user` has on screen, if any."""
        opened = [v for v in self.views(user) if v["state"] == "open"]
        return opened[-1] if opened else None


class InteractionReceiver:
    """A stdlib HTTP endpoint on loopback standing in for the app's interactions URL.

    It records every request (headers, raw body) and answers with `reply`:
    a callable taking (headers, body) and returning (status, JSON-able body
    or None for an empty answer). The default acknowledges with an empty 200.
    """

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.reply: Any = lambda headers, body: (200, None)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import json

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = dict(self.headers.items())
                with receiver._lock:
                    receiver.requests.append((headers, body))
                status, answer = receiver.reply(headers, body)
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/integrations/slack/interactions"

    def payloads(self) -> list[dict[str, Any]]:
        """The decoded `payload` of every request received."""
        import json
        from urllib.parse import parse_qs

        with self._lock:
            bodies = [body for _, body in self.requests]
        return [json.loads(parse_qs(body.decode())["payload"][0]) for body in bodies]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
