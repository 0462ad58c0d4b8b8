"""Fixtures: a real simulator process, a real webhook receiver, a real client.

The helpers live in `harness.py`, so tests import them from there rather than
from this conftest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from refunds.providers.stripe import StripeProtocolProvider

from .harness import API_KEY, CLIENT_TIMEOUT, SimulatorProcess, WebhookReceiver


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
