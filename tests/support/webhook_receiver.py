"""The one launcher of the webhook receiver process, for tests and the demo (devtools.webhook_receiver).

The receiver (`python -m devtools.webhook_receiver.server`) starts on port 0
and announces its URL on stdout once it listens. The port it got is kept:
`stop()` then `start()` binds the same port again, which is what "the
merchant's receiver was down for a minute" looks like to endpoints registered
with its URL (its state is in memory: it comes back empty).

Each path is an endpoint of its own (`endpoint_url("/a")`), with its own mode
(status, delay, redirect) and its own secrets to check signatures with.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from tests.support.child_process import AnnouncedProcess

__all__ = ["WebhookReceiver"]


class WebhookReceiver(AnnouncedProcess):
    """The webhook receiver as a child process; restartable on the same port."""

    what = "webhook receiver"

    def __init__(
        self, *, log_path: Path, secrets: list[str] | None = None, port: int = 0, env: dict[str, str] | None = None
    ) -> None:
        # Its stderr (one line per request) is the first place to look when a test fails.
        super().__init__(log_path=log_path, port=port, env=env)
        self.secrets = list(secrets or [])
        self._session = requests.Session()
        self._session.trust_env = False  # loopback, never through a proxy

    def command(self) -> list[str]:
        args = ["devtools.webhook_receiver.server", "--port", str(self.port)]
        for secret in self.secrets:
            args += ["--secret", secret]
        return args

    def endpoint_url(self, path: str = "/hooks") -> str:
        """The URL to register as a webhook endpoint: one path per endpoint."""
        return self.url + path

    # --- talking to it -------------------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(method, self.url + path, timeout=30, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path} -> HTTP {response.status_code}: {response.text}")
        return response.json()

    def reset(self) -> None:
        """Forget requests, modes and secrets given at runtime."""
        self._json("POST", "/_recv/reset")

    def set_mode(
        self,
        path: str | None = None,
        *,
        status: int = 200,
        delay_seconds: float = 0,
        redirect_to: str | None = None,
        hold: bool = False,
    ) -> dict[str, Any]:
        """How `path` answers from now on (None: every path without a mode of its own).

        `hold`: each request waits for `release(path)` (at most `delay_seconds`) before its answer.
        """
        body = {"path": path, "status": status, "delay_seconds": delay_seconds, "redirect_to": redirect_to}
        return self._json("POST", "/_recv/mode", json={**body, "hold": hold})

    def release(self, path: str | None = None) -> None:
        """Let the requests held at `path` answer (see `set_mode(hold=True)`)."""
        self._json("POST", "/_recv/release", json={"path": path})

    def set_secrets(self, secrets: list[str], path: str | None = None) -> None:
        """The secrets `path`'s signatures are checked with (the ✓/✗ of the page and `signature_verified`)."""
        self._json("POST", "/_recv/secrets", json={"path": path, "secrets": secrets})

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Requests received (at `path`), oldest first: method, path, headers, body (text), received_at …"""
        return self._json("GET", "/_recv/requests", params={"path": path} if path else {})

    def wait_for_requests(self, path: str | None, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The requests at `path` once there are at least `count` of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.requests(path)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def page(self) -> str:
        response = self._session.get(self.url + "/_recv/", timeout=30)
        response.raise_for_status()
        return response.text
