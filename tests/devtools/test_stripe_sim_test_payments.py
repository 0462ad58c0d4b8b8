"""The simulator's test payments (issue 16): POST /v1/payment_intents, as the synthetic refund makes them."""

from __future__ import annotations

import pytest

from providers.base import ProviderRejected
from providers.stripe.client import StripeProtocolProvider
from tests.support.stripe_sim import SimulatorProcess

pytestmark = pytest.mark.slow  # each module starts the simulator process


def test_a_confirmed_test_payment_is_captured_and_refundable(provider: StripeProtocolProvider):
    payment_id = provider.create_test_payment(amount_minor=250, currency="USD", idempotency_key="tp-1")

    assert payment_id.startswith("pi_sim_ok_")
    outcome = provider.execute_refund(
        payment_id=payment_id, amount_minor=250, currency="USD", idempotency_key="tp-1-refund", metadata={}
    )
    assert outcome.status == "succeeded"


def test_the_same_key_makes_one_payment(provider: StripeProtocolProvider, simulator: SimulatorProcess):
    first = provider.create_test_payment(amount_minor=300, currency="USD", idempotency_key="tp-2")
    again = provider.create_test_payment(amount_minor=300, currency="USD", idempotency_key="tp-2")

    assert again == first
    intent = simulator.request("GET", f"/v1/payment_intents/{first}").json()
    assert (intent["status"], intent["amount_received"], intent["currency"]) == ("succeeded", 300, "usd")


def test_an_unconfirmed_intent_is_not_a_payment(simulator: SimulatorProcess):
    answer = simulator.request("POST", "/v1/payment_intents", data={"amount": "100", "currency": "usd"})
    assert answer.status_code == 200 and answer.json()["status"] == "requires_payment_method"
    manual = simulator.request(
        "POST",
        "/v1/payment_intents",
        data={"amount": "100", "currency": "usd", "confirm": "true", "payment_method": "pm_card_visa",
              "capture_method": "manual"},
    )  # fmt: skip
    assert manual.json()["status"] == "requires_capture" and manual.json()["amount_capturable"] == 100


def test_a_bad_amount_is_refused(provider: StripeProtocolProvider):
    with pytest.raises(ProviderRejected):
        provider._request("POST", "/v1/payment_intents", data={"amount": "0", "currency": "usd"})
