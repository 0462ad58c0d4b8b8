"""`StripeProtocolProvider.void_payment` against the real simulator (issue 15)."""

from __future__ import annotations

import pytest

from providers.base import FailureCode, ProviderUnavailable
from providers.stripe.client import StripeProtocolProvider
from tests.support.stripe_sim import SimulatorProcess, payment_id


def test_a_void_releases_the_hold(provider: StripeProtocolProvider):
    pi = payment_id("ok")

    outcome = provider.void_payment(payment_id=pi, idempotency_key="rf_a-1")

    assert (outcome.status, outcome.provider_refund_id, outcome.failure_code) == ("succeeded", pi, None)
    assert outcome.is_final


def test_asking_again_with_the_same_key_is_the_same_success(provider: StripeProtocolProvider):
    pi = payment_id("ok")
    provider.void_payment(payment_id=pi, idempotency_key="rf_b-1")

    assert provider.void_payment(payment_id=pi, idempotency_key="rf_b-1").status == "succeeded"


def test_an_intent_canceled_already_answers_as_success(provider: StripeProtocolProvider, simulator: SimulatorProcess):
    pi = payment_id("ok")
    simulator.request("POST", f"/v1/payment_intents/{pi}/cancel")  # someone else, without our key

    outcome = provider.void_payment(payment_id=pi, idempotency_key="rf_c-1")

    assert (outcome.status, outcome.provider_refund_id) == ("succeeded", pi)


def test_a_captured_intent_is_a_final_failure(provider: StripeProtocolProvider):
    outcome = provider.void_payment(payment_id=payment_id("captured"), idempotency_key="rf_d-1")

    assert (outcome.status, outcome.failure_code, outcome.retryable) == (
        "failed",
        FailureCode.PAYMENT_ALREADY_CAPTURED,
        False,
    )
    assert outcome.provider_refund_id is None


def test_a_server_error_is_unavailable_and_the_same_key_then_succeeds(provider: StripeProtocolProvider):
    pi = payment_id("5xx")

    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            provider.void_payment(payment_id=pi, idempotency_key="rf_e-1")

    assert provider.void_payment(payment_id=pi, idempotency_key="rf_e-1").status == "succeeded"


def test_a_timeout_is_unavailable(provider: StripeProtocolProvider):
    with pytest.raises(ProviderUnavailable):
        provider.void_payment(payment_id=payment_id("timeout"), idempotency_key="rf_f-1")
