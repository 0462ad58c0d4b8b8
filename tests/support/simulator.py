"""The one launcher of the provider simulator process, for tests and benchmarks.

The simulator (`python -m devtools.stripe_sim.server`) is started on port 0
and announces its URL on stdout once it listens, so a start waits for exactly
that line instead of polling a health URL. The port it got is kept: a restart
binds the same port on the same SQLite file, which is what a provider outage
looks like to the processes already configured with its URL.

Stdlib and `requests` only: the benchmarks import this without Django.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.support.child_process import ROOT, AnnouncedProcess

__all__ = ["ROOT", "Simulator"]


class Simulator(AnnouncedProcess):
    """The simulator as a child process; restartable on the same port and state file."""

    what = "simulator"

    def __init__(
        self,
        *,
        db_path: Path,
        api_key: str,
        webhook_secret: str,
        webhook_url: str | None = None,
        port: int = 0,
        stall: float = 3.0,
        async_delay: float = 1.0,
        webhook_backoff: float = 0.3,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        # Its stderr (one line per webhook attempt) beside its state: the first place to look when a test fails.
        super().__init__(log_path=log_path or self.db_path.with_suffix(".log"), port=port, env=env)
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.stall = stall
        self.async_delay = async_delay
        self.webhook_backoff = webhook_backoff

    def command(self) -> list[str]:
        args = [
            "devtools.stripe_sim.server", "--port", str(self.port),
            "--db", str(self.db_path), "--webhook-secret", self.webhook_secret, "--api-key", self.api_key,
            "--stall", str(self.stall), "--async-delay", str(self.async_delay),
            "--webhook-backoff", str(self.webhook_backoff),
        ]  # fmt: skip
        if self.webhook_url:
            args += ["--webhook-url", self.webhook_url]
        return args

    # --- talking to it -------------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A raw HTTP call with our API key (for protocol-level assertions)."""
        headers = {"Authorization": f"Bearer {self.api_key}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def refunds_for(self, payment_intent: str) -> list[dict[str, Any]]:
        response = self.request("GET", "/v1/refunds", params={"payment_intent": payment_intent, "limit": 100})
        response.raise_for_status()
        return response.json()["data"]

    def webhook_log(self) -> list[dict[str, Any]]:
        return requests.get(self.url + "/_sim/webhooks", timeout=10).json()["data"]

    def health(self) -> dict[str, Any]:
        return requests.get(self.url + "/_sim/health", timeout=10).json()

    def reset(self) -> None:
        """Forget every refund, key, fault and queued webhook, and put the clock back."""
        requests.post(self.url + "/_sim/reset", timeout=10).raise_for_status()
