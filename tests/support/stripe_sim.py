"""The provider and simulator tests' fixtures (a pytest plugin of the root conftest).

Nothing here fakes the provider: the simulator is the real process started by
`tests.support.simulator.Simulator`, with its own SQLite file, posting its
signed webhooks to a small stdlib HTTP server in the test process. The stall
(2 s) is longer than the client timeout (1 s), as in production, so the
timeout mode really times out.

One simulator serves a whole test module (a process start and stop costs about
a second); each test gets it back empty (see `simulator`).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from providers.stripe.client import StripeProtocolProvider
from tests.support.simulator import ROOT, Simulator

API_KEY = "sk_test_provider_suite"
WEBHOOK_SECRET = "whsec_provider_suite"
STALL_SECONDS = 2.0
CLIENT_TIMEOUT = 1.0
ASYNC_DELAY = 0.3

# The names the provider and simulator tests import.
SimulatorProcess = Simulator
REPO_ROOT = ROOT


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
        self.simulator: Simulator | None = None  # the module's simulator posting here, once started
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

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
        self.fail_next, self.fail_all = 0, False

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _module_webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def _module_simulator(
    tmp_path_factory: pytest.TempPathFactory, _module_webhook_receiver: WebhookReceiver
) -> Iterator[Simulator]:
    directory = tmp_path_factory.mktemp("sim")
    sim = Simulator(
        db_path=directory / "sim.sqlite3",
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        webhook_url=_module_webhook_receiver.url,
        stall=STALL_SECONDS,
        async_delay=ASYNC_DELAY,
        webhook_backoff=0.2,
    )
    sim.start()
    _module_webhook_receiver.simulator = sim
    yield sim
    _module_webhook_receiver.simulator = None
    sim.stop()


@pytest.fixture
def webhook_receiver(_module_webhook_receiver: WebhookReceiver) -> WebhookReceiver:
    """The module's receiver, empty, answering 200, with nothing of an earlier test still on its way."""
    receiver = _module_webhook_receiver
    sim = receiver.simulator
    if sim is None:
        receiver.clear()
        return receiver
    if not sim.running:  # an earlier test stopped it and failed before starting it again
        sim.start()
    _quiesce(sim, receiver)
    return receiver


@pytest.fixture
def simulator(_module_simulator: Simulator, webhook_receiver: WebhookReceiver) -> Simulator:
    """The module's simulator, running and empty (`webhook_receiver` has reset it)."""
    return _module_simulator


def _quiesce(sim: Simulator, receiver: WebhookReceiver) -> None:
    """Reset the simulator so that no webhook of an earlier test can still reach the receiver.

    A reset drops queued webhooks, but the simulator's single delivery thread
    may be posting one at that moment. Its next post after the reset is a
    probe of our own: once the probe has arrived, that earlier post has
    arrived too, and a second reset drops the probe.
    """
    receiver.clear()
    sim.reset()
    probe = sim.request("POST", "/v1/refunds", data={"payment_intent": payment_id("ok"), "amount": "1"}).json()
    wait_until(lambda: receiver.events(probe["id"]))
    sim.reset()
    receiver.clear()


@pytest.fixture
def provider(simulator: Simulator) -> StripeProtocolProvider:
    return StripeProtocolProvider(simulator.url, API_KEY, timeout=CLIENT_TIMEOUT)
