"""The synthetic refund never touches a live account (issue 16): attack tests first.

A live key (or a provider without a test mode) is refused before any request leaves this
process and before anything but the failed run is written. The "provider" here is a listening
socket: had a single request been attempted, a connection would be waiting in its backlog.
"""

from __future__ import annotations

import socket

import pytest
from django.core.management import CommandError, call_command

from operations.models import SyntheticRun
from operations.synthetic import SyntheticRefused, synthetic_refund_run
from providers.stripe.client import StripeProtocolProvider
from refunds.models import Merchant, Order, Refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def listener():
    """A provider address that records whether anyone connected (non-blocking accept)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock
    sock.close()


def nobody_connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


@pytest.fixture
def live_provider(settings, listener):
    settings.PROVIDER = "stripe"
    settings.PROVIDER_API_BASE = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.PROVIDER_API_KEY = "sk_live_" + "x" * 24
    settings.SYNTHETIC_PROVIDER = ""


def test_a_live_key_exits_non_zero_before_any_provider_call(live_provider, listener):
    with pytest.raises(CommandError, match="not in test mode"):
        call_command("synthetic_refund")

    assert nobody_connected(listener)
    assert not Merchant.objects.filter(slug="synthetic").exists()
    assert not Order.objects.exists() and not Refund.objects.exists()
    run = SyntheticRun.objects.get()
    assert run.ok is False and run.steps == [] and run.error.startswith("refused:")


def test_a_restricted_live_key_is_refused_too(live_provider, listener, settings):
    settings.PROVIDER_API_KEY = "rk_live_" + "x" * 24
    with pytest.raises(SyntheticRefused):
        synthetic_refund_run()
    assert nobody_connected(listener)


def test_a_provider_without_a_test_mode_is_refused(live_provider, listener):
    with pytest.raises(CommandError, match="no API"):
        call_command("synthetic_refund", "--provider", "manual")
    assert nobody_connected(listener)
    assert not Refund.objects.exists()


def test_the_client_refuses_a_test_payment_with_a_live_key_without_calling(listener):
    client = StripeProtocolProvider(f"http://127.0.0.1:{listener.getsockname()[1]}", "sk_live_" + "y" * 24, timeout=1.0)
    assert not client.in_test_mode()
    with pytest.raises(ValueError, match="test-mode key"):
        client.create_test_payment(amount_minor=100, currency="USD", idempotency_key="k")
    assert nobody_connected(listener)


def test_test_keys_are_test_mode():
    for key in ("sk_test_abc", "rk_test_abc"):
        assert StripeProtocolProvider("http://127.0.0.1:1", key, timeout=1.0).in_test_mode()
