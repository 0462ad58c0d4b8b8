"""StripeProtocolProvider against the real simulator process, mode by mode."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
import requests

from providers.base import (
    FailureCode,
    IdempotencyMismatch,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnavailable,
    ReportRow,
)
from providers.stripe.client import StripeProtocolProvider
from tests.support.stripe_sim import (
    API_KEY,
    CLIENT_TIMEOUT,
    SimulatorProcess,
    WebhookReceiver,
    payment_id,
    wait_until,
)

pytestmark = pytest.mark.slow  # each test starts the simulator process


def _refund(
    provider: StripeProtocolProvider,
    pi: str,
    *,
    amount: int = 1500,
    currency: str = "EUR",
    key: str | None = None,
) -> ProviderOutcome:
    return provider.execute_refund(
        payment_id=pi,
        amount_minor=amount,
        currency=currency,
        idempotency_key=key or f"rf_{uuid.uuid4().hex}",
        metadata={"refund_id": "rf_test"},
    )


@pytest.mark.parametrize("prefix", ["pi_sim_ok_", "pi_3PlainStripeLike"])
def test_ok_and_unprefixed_payments_succeed_at_once(provider: StripeProtocolProvider, prefix: str) -> None:
    pi = prefix + uuid.uuid4().hex[:12]
    outcome = _refund(provider, pi, amount=1500, currency="EUR")

    assert outcome.status == "succeeded"
    assert outcome.provider_refund_id and outcome.provider_refund_id.startswith("re_")
    assert (outcome.failure_code, outcome.retryable) == (None, False)
    assert outcome.raw["amount"] == 1500
    assert outcome.raw["currency"] == "eur"
    assert outcome.raw["payment_intent"] == pi
    assert outcome.raw["metadata"] == {"currency": "eur", "refund_id": "rf_test"}


def test_async_refund_is_pending_then_succeeds_with_a_webhook(
    provider: StripeProtocolProvider, webhook_receiver: WebhookReceiver
) -> None:
    outcome = _refund(provider, payment_id("async"))

    assert outcome.status == "pending"
    assert not outcome.is_final
    refund_id = outcome.provider_refund_id
    assert refund_id
    updated = wait_until(lambda: [e for e in webhook_receiver.events(refund_id) if e["type"] == "refund.updated"])
    assert updated[0]["data"]["object"]["status"] == "succeeded"
    assert updated[0]["data"]["previous_attributes"] == {"status": "pending"}
    assert provider.fetch_refund(provider_refund_id=refund_id).status == "succeeded"


def test_fail_mode_is_a_final_not_retryable_failure(
    provider: StripeProtocolProvider, webhook_receiver: WebhookReceiver
) -> None:
    outcome = _refund(provider, payment_id("fail"))

    assert outcome.status == "failed"
    assert outcome.failure_code == FailureCode.EXPIRED_OR_CANCELED_CARD
    assert outcome.retryable is False
    assert outcome.raw["failure_reason"] == "expired_or_canceled_card"
    types = wait_until(
        lambda: (
            {e["type"] for e in webhook_receiver.events(outcome.provider_refund_id)}
            >= {"refund.created", "refund.failed"}
            and [e["type"] for e in webhook_receiver.events(outcome.provider_refund_id)]
        )
    )
    assert sorted(types) == ["refund.created", "refund.failed"]


def test_timeout_then_retry_with_same_key_returns_the_one_refund(
    provider: StripeProtocolProvider, simulator: SimulatorProcess
) -> None:
    pi, key = payment_id("timeout"), "rf_timeout_key"

    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as err:
        _refund(provider, pi, key=key)
    assert err.value.code == "network"
    assert time.monotonic() - started < CLIENT_TIMEOUT + 0.9  # we gave up, not the server

    started = time.monotonic()
    retried = _refund(provider, pi, key=key)
    assert time.monotonic() - started < CLIENT_TIMEOUT  # replayed at once
    again = _refund(provider, pi, key=key)

    assert retried.status == "succeeded"
    assert again.provider_refund_id == retried.provider_refund_id
    listed = simulator.refunds_for(pi)
    assert [r["id"] for r in listed] == [retried.provider_refund_id]


def test_5xx_twice_then_success_creates_exactly_one_refund(
    provider: StripeProtocolProvider, simulator: SimulatorProcess
) -> None:
    pi, key = payment_id("5xx"), "rf_5xx_key"

    for _ in range(2):
        with pytest.raises(ProviderUnavailable) as err:
            _refund(provider, pi, key=key)
        assert err.value.http_status == 500
        assert simulator.refunds_for(pi) == []
    outcome = _refund(provider, pi, key=key)

    assert outcome.status == "succeeded"
    assert [r["id"] for r in simulator.refunds_for(pi)] == [outcome.provider_refund_id]


def test_a_request_the_provider_cannot_serve_is_request_specific_and_creates_nothing(
    provider: StripeProtocolProvider, simulator: SimulatorProcess
) -> None:
    pi, key = payment_id("broken"), "rf_broken_key"

    for _ in range(3):
        with pytest.raises(ProviderUnavailable) as err:
            _refund(provider, pi, key=key)
        assert (err.value.http_status, err.value.scope) == (500, "request")
    assert simulator.refunds_for(pi) == []
    assert _refund(provider, payment_id("ok")).status == "succeeded"  # the provider serves everything else


def test_same_key_and_params_replay_the_same_refund(
    provider: StripeProtocolProvider, simulator: SimulatorProcess
) -> None:
    pi = payment_id("ok")

    first = _refund(provider, pi, key="rf_same")
    second = _refund(provider, pi, key="rf_same")

    assert second.provider_refund_id == first.provider_refund_id
    assert second.raw == first.raw
    assert len(simulator.refunds_for(pi)) == 1


def test_same_key_with_other_params_is_an_idempotency_mismatch(
    provider: StripeProtocolProvider, simulator: SimulatorProcess
) -> None:
    pi = payment_id("ok")
    _refund(provider, pi, amount=1500, key="rf_reused")

    with pytest.raises(IdempotencyMismatch) as err:
        _refund(provider, pi, amount=1600, key="rf_reused")

    assert isinstance(err.value, ProviderRejected)
    assert (err.value.code, err.value.http_status) == ("idempotency_mismatch", 400)
    assert len(simulator.refunds_for(pi)) == 1


def test_concurrent_calls_with_one_key_create_one_refund(
    simulator: SimulatorProcess,
) -> None:
    pi, results, errors = payment_id("ok"), [], []

    def call() -> None:
        # One provider (one Session) per thread, as documented.
        provider = StripeProtocolProvider(simulator.url, API_KEY, timeout=5)
        try:
            results.append(_refund(provider, pi, key="rf_concurrent"))
        except ProviderUnavailable as exc:  # 409 idempotency_key_in_use
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results, "at least one call must get the answer"
    assert {r.provider_refund_id for r in results} == {simulator.refunds_for(pi)[0]["id"]}
    assert all(e.http_status == 409 for e in errors)
    assert len(simulator.refunds_for(pi)) == 1


def test_fetch_of_unknown_refund_is_rejected_as_not_found(
    provider: StripeProtocolProvider,
) -> None:
    with pytest.raises(ProviderRejected) as err:
        provider.fetch_refund(provider_refund_id="re_does_not_exist")

    assert (err.value.code, err.value.http_status) == ("not_found", 404)


def test_iter_refunds_walks_every_page_of_the_created_range(
    provider: StripeProtocolProvider, simulator: SimulatorProcess
) -> None:
    def create_at(offset: int, count: int) -> tuple[list[str], int]:
        now = simulator.request("POST", "/_sim/clock", data={"offset": offset}).json()["now"]
        ids = [_refund(provider, payment_id("ok")).provider_refund_id for _ in range(count)]
        return [i for i in ids if i], now

    create_at(-2 * 86400, 2)  # the day before: outside the range
    day_ids, day_start = create_at(-86400, 5)
    create_at(0, 1)  # today: outside the range

    rows = list(provider.iter_refunds(created_gte=day_start, created_lt=day_start + 3600, page_size=2))

    assert [r.provider_refund_id for r in rows] == list(reversed(day_ids))  # newest first, once each
    assert all(isinstance(r, ReportRow) for r in rows)
    assert {(r.status, r.currency, r.amount_minor, r.refund_public_id, r.reversal) for r in rows} == {
        ("succeeded", "EUR", 1500, "rf_test", False)
    }
    assert all(day_start <= r.created_unix < day_start + 3600 and r.payment_id.startswith("pi_sim_ok_") for r in rows)


def test_fetch_refund_row_reads_one_refund_for_reconciliation(provider: StripeProtocolProvider) -> None:
    pi = payment_id("ok")
    outcome = _refund(provider, pi, amount=1234, currency="USD")

    row = provider.fetch_refund_row(provider_refund_id=outcome.provider_refund_id)

    assert row == ReportRow(outcome.provider_refund_id, 1234, "USD", "succeeded", row.created_unix, pi, "rf_test")
    with pytest.raises(ProviderRejected) as err:
        provider.fetch_refund_row(provider_refund_id="re_does_not_exist")
    assert err.value.code == "not_found"


def test_wrong_api_key_is_unavailable_not_a_refund_failure(
    simulator: SimulatorProcess,
) -> None:
    provider = StripeProtocolProvider(simulator.url, "sk_test_wrong", timeout=CLIENT_TIMEOUT)

    with pytest.raises(ProviderUnavailable) as err:
        _refund(provider, payment_id("ok"))

    assert (err.value.code, err.value.http_status) == ("authentication", 401)


def test_provider_down_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = StripeProtocolProvider(f"http://127.0.0.1:{port}", API_KEY, timeout=1)

    with pytest.raises(ProviderUnavailable) as err:
        _refund(provider, payment_id("ok"))

    assert (err.value.code, err.value.scope) == ("network", "provider")


@pytest.mark.parametrize(
    ("status", "scope"), [(502, "provider"), (503, "provider"), (500, "request"), (200, "request")]
)
def test_an_unreadable_answer_is_provider_wide_only_from_a_gateway(status: int, scope: str) -> None:
    """A proxy's HTML 502 speaks for the whole provider; a body we cannot read on a 200 or 500, for one request."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Html(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>Bad Gateway</html>")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider = StripeProtocolProvider(f"http://127.0.0.1:{server.server_port}", API_KEY, timeout=5)
        with pytest.raises(ProviderUnavailable) as err:
            _refund(provider, payment_id("ok"))
    finally:
        server.shutdown()
        server.server_close()

    assert (err.value.code, err.value.http_status, err.value.scope) == ("bad_response", status, scope)


def test_invalid_amount_never_reaches_the_provider() -> None:
    provider = StripeProtocolProvider("http://127.0.0.1:9", API_KEY, timeout=1)

    for amount in (0, -5, 12.5, True):
        with pytest.raises(ValueError):
            _refund(provider, payment_id("ok"), amount=amount)  # type: ignore[arg-type]


def test_requests_carry_stripe_headers(simulator: SimulatorProcess) -> None:
    provider = StripeProtocolProvider(simulator.url, API_KEY, timeout=CLIENT_TIMEOUT)

    assert provider.session.headers["Authorization"] == f"Bearer {API_KEY}"
    assert provider.session.headers["Stripe-Version"]
    resp = requests.get(simulator.url + "/v1/refunds", headers=dict(provider.session.headers), timeout=5)
    assert resp.status_code == 200
