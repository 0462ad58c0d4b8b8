"""The simulator's payment intents (issue 15): an authorization canceled once, as Stripe does."""

from __future__ import annotations

import pytest
import requests

from tests.support.stripe_sim import SimulatorProcess, WebhookReceiver, payment_id, wait_until

pytestmark = pytest.mark.slow  # each module starts the simulator process


def _cancel(sim: SimulatorProcess, pi: str, *, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return sim.request(
        "POST",
        f"/v1/payment_intents/{pi}/cancel",
        data={"cancellation_reason": "requested_by_customer"},
        headers=headers,
    )


def test_an_authorization_is_canceled_and_its_event_sent(
    simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
):
    pi = payment_id("ok")
    simulator.request("POST", "/_sim/payment_intents", data={"id": pi, "amount": "4200", "currency": "eur"})

    answer = _cancel(simulator, pi, key="void-1")

    assert answer.status_code == 200
    intent = answer.json()
    assert (intent["status"], intent["amount"], intent["amount_capturable"]) == ("canceled", 4200, 0)
    assert intent["cancellation_reason"] == "requested_by_customer"
    events = wait_until(lambda: webhook_receiver.events(pi))
    assert [e["type"] for e in events] == ["payment_intent.canceled"]
    assert events[0]["data"]["object"]["status"] == "canceled"


def test_the_same_key_replays_the_cancel_and_sends_no_second_event(
    simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
):
    pi = payment_id("ok")
    first = _cancel(simulator, pi, key="void-2")
    again = _cancel(simulator, pi, key="void-2")

    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    wait_until(lambda: webhook_receiver.events(pi))
    assert len([w for w in simulator.webhook_log() if w["refund"] == pi]) == 1


def test_a_second_cancel_with_another_key_is_refused_with_the_intent(simulator: SimulatorProcess):
    pi = payment_id("ok")
    _cancel(simulator, pi, key="void-3")

    refused = _cancel(simulator, pi, key="void-4")

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "payment_intent_unexpected_state"
    assert error["payment_intent"]["status"] == "canceled"


def test_a_captured_intent_cannot_be_canceled(simulator: SimulatorProcess):
    pi = payment_id("captured")

    refused = _cancel(simulator, pi)

    assert refused.status_code == 400
    assert refused.json()["error"]["payment_intent"]["status"] == "succeeded"
    assert simulator.request("GET", f"/v1/payment_intents/{pi}").json()["status"] == "succeeded"


def test_an_unknown_cancellation_reason_is_refused_and_changes_nothing(simulator: SimulatorProcess):
    pi = payment_id("ok")

    refused = simulator.request("POST", f"/v1/payment_intents/{pi}/cancel", data={"cancellation_reason": "bored"})

    assert refused.status_code == 400
    assert simulator.request("GET", f"/v1/payment_intents/{pi}").json()["status"] == "requires_capture"


def test_the_cancel_needs_an_api_key(simulator: SimulatorProcess):
    answer = requests.post(f"{simulator.url}/v1/payment_intents/{payment_id('ok')}/cancel", timeout=5)

    assert answer.status_code == 401
