"""The one launcher of the provider simulator process, for tests and benchmarks.

The simulator (`python -m devtools.stripe_sim.server`) is started on port 0
and announces its URL on stdout once it listens, so a start waits for exactly
that line instead of polling a health URL. The port it got is kept: a restart
binds the same port on the same SQLite file, which is what a provider outage
looks like to the processes already configured with its URL.

Stdlib and `requests` only: the benchmarks import this without Django.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


class Simulator:
    """The simulator as a child process; restartable on the same port and state file."""

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
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.port = port
        self.stall = stall
        self.async_delay = async_delay
        self.webhook_backoff = webhook_backoff
        # Its stderr (one line per webhook attempt) beside its state: the first place to look when a test fails.
        self.log_path = log_path or self.db_path.with_suffix(".log")
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the simulator has no port before its first start")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Simulator:
        args = [
            sys.executable, "-m", "devtools.stripe_sim.server", "--port", str(self.port),
            "--db", str(self.db_path), "--webhook-secret", self.webhook_secret, "--api-key", self.api_key,
            "--stall", str(self.stall), "--async-delay", str(self.async_delay),
            "--webhook-backoff", str(self.webhook_backoff),
        ]  # fmt: skip
        if self.webhook_url:
            args += ["--webhook-url", self.webhook_url]
        env = {**(self.env if self.env is not None else os.environ), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log)
        line = self._announced_line()
        if "listening on " not in line:
            self.stop()
            raise RuntimeError(f"simulator did not start; its log {self.log_path}:\n{self.log_path.read_text()}")
        self.port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        return self

    def _announced_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                return self.process.stdout.readline().decode()
            if self.process.poll() is not None:
                return ""
        return ""

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

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
