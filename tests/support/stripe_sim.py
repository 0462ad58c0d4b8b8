"""Helpers that run the provider simulator as a real process (see conftest.py).

Nothing here fakes the provider: the simulator is started with
`python -m devtools.stripe_sim.server` on a free port, with its own SQLite
file, and posts its signed webhooks to a small stdlib HTTP server running in
the test process. The stall (2 s) is longer than the client timeout (1 s), as
in production, so the timeout mode really times out.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from providers.stripe.client import StripeProtocolProvider

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk_test_provider_suite"
WEBHOOK_SECRET = "whsec_provider_suite"
STALL_SECONDS = 2.0
CLIENT_TIMEOUT = 1.0
ASYNC_DELAY = 0.3


def payment_id(mode: str) -> str:
    """A fresh payment intent id selecting a simulator mode."""
    return f"pi_sim_{mode}_{uuid.uuid4().hex[:12]}"


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `predicate` until it returns something truthy, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


class WebhookReceiver:
    """A real HTTP endpoint standing in for our /webhooks/payments."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0  # answer 500 to this many requests first
        self.fail_all = False
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append((dict(self.headers.items()), body))
                    failing = receiver.fail_all or receiver.fail_next > 0
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/payments"

    def events(self, refund_id: str | None = None) -> list[dict[str, Any]]:
        """Parsed events received (including repeats), optionally for one refund."""
        with self._lock:
            bodies = [body for _, body in self.requests]
        events = [json.loads(body) for body in bodies]
        if refund_id is None:
            return events
        return [e for e in events if e["data"]["object"]["id"] == refund_id]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SimulatorProcess:
    """The simulator as a subprocess; restartable on the same SQLite file."""

    def __init__(self, db_path: Path, webhook_url: str, log_path: Path) -> None:
        self.db_path = db_path
        self.webhook_url = webhook_url
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        args = [
            sys.executable,
            "-m",
            "devtools.stripe_sim.server",
            "--port",
            "0",
            "--db",
            str(self.db_path),
            "--webhook-url",
            self.webhook_url,
            "--webhook-secret",
            WEBHOOK_SECRET,
            "--api-key",
            API_KEY,
            "--stall",
            str(STALL_SECONDS),
            "--async-delay",
            str(ASYNC_DELAY),
            "--webhook-backoff",
            "0.2",
        ]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=log)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline().decode() if ready else ""
        if "listening on " not in line:
            self.stop()
            raise RuntimeError(f"simulator did not start:\n{self.log_path.read_text()}")
        self.url = line.rsplit(" ", 1)[1].strip()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A raw HTTP call with our API key (for protocol-level assertions)."""
        headers = {"Authorization": f"Bearer {API_KEY}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def refunds_for(self, payment_intent: str) -> list[dict[str, Any]]:
        resp = self.request("GET", "/v1/refunds", params={"payment_intent": payment_intent})
        resp.raise_for_status()
        return resp.json()["data"]

    def webhook_log(self) -> list[dict[str, Any]]:
        return requests.get(self.url + "/_sim/webhooks", timeout=10).json()["data"]


# --- fixtures (a pytest plugin of the root conftest: the provider and simulator tests share them) ---


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def simulator(tmp_path: Path, webhook_receiver: WebhookReceiver) -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess(tmp_path / "sim.sqlite3", webhook_receiver.url, tmp_path / "sim.log")
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def provider(simulator: SimulatorProcess) -> StripeProtocolProvider:
    return StripeProtocolProvider(simulator.url, API_KEY, timeout=CLIENT_TIMEOUT)
