"""Stripe events in our words: the `Stripe-Signature` check and the event envelope (no HTTP, no database)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from providers.base import ProviderEvent, WebhookRejected, WebhookSignatureInvalid
from providers.stripe.client import StripeProtocolProvider
from providers.stripe.signature import sign_payload
from providers.stripe.webhooks import SIGNATURE_HEADER, parse_event, verify_webhook

SECRETS = ("whsec_new", "whsec_old")


def _event(obj: dict | None = None, **fields: object) -> dict:
    body = {"id": "evt_1", "type": "refund.updated", "created": 1_700_000_000, **fields}
    if obj is not None:
        body["data"] = {"object": obj}
    return body


def _refund(**fields: object) -> dict:
    return {
        "object": "refund",
        "id": "re_1",
        "amount": 1250,
        "currency": "usd",
        "status": "succeeded",
        "metadata": {"refund_id": "rf_1"},
        **fields,
    }


def _signed(body: dict, secret: str = "whsec_new", **kwargs: int) -> tuple[bytes, dict[str, str]]:
    payload = json.dumps(body).encode()
    return payload, {SIGNATURE_HEADER: sign_payload(payload, secret, **kwargs)}


def test_a_refund_event_is_read_into_a_provider_event() -> None:
    body = _event(_refund())

    event = parse_event(body)

    assert isinstance(event, ProviderEvent) and event.is_refund_event
    assert (event.event_id, event.event_type, event.payload) == ("evt_1", "refund.updated", body)
    assert event.created_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert (event.provider_refund_id, event.refund_public_id) == ("re_1", "rf_1")
    assert (event.amount_minor, event.currency, event.provider_status) == (1250, "USD", "succeeded")
    assert event.outcome is not None
    assert (event.outcome.status, event.outcome.provider_refund_id) == ("succeeded", "re_1")
    assert event.outcome.raw == body["data"]["object"]


@pytest.mark.parametrize(
    ("stripe_status", "reason", "ours", "code", "retryable"),
    [
        ("failed", "insufficient_funds", "failed", "insufficient_funds", True),
        ("failed", "expired_or_canceled_card", "failed", "expired_or_canceled_card", False),
        ("canceled", None, "failed", "canceled", False),
        ("requires_action", None, "pending", None, False),
    ],
)
def test_the_outcome_of_an_event_uses_the_one_status_map(
    stripe_status: str, reason: str | None, ours: str, code: str | None, retryable: bool
) -> None:
    event = parse_event(_event(_refund(status=stripe_status, failure_reason=reason)))

    assert event.outcome is not None
    assert (event.outcome.status, event.outcome.failure_code, event.outcome.retryable) == (ours, code, retryable)
    assert event.provider_status == stripe_status


def test_an_event_about_something_else_has_no_outcome() -> None:
    event = parse_event(_event({"object": "charge", "id": "ch_1", "amount": 5000, "status": "succeeded"}))

    assert not event.is_refund_event
    assert (event.outcome, event.provider_refund_id, event.refund_public_id) == (None, None, None)


def test_a_stored_event_is_read_leniently() -> None:
    event = parse_event({"data": {"object": {"id": "re_2", "amount": 777, "currency": "usd"}}})

    assert (event.event_id, event.created_at, event.amount_minor, event.currency) == ("", None, 777, "USD")
    assert event.outcome is None


@pytest.mark.parametrize("payload", [[], "evt", {"id": "e", "data": []}, {"id": "e", "data": {"object": "re_1"}}])
def test_what_is_no_event_is_rejected(payload: object) -> None:
    with pytest.raises(WebhookRejected) as rejected:
        parse_event(payload)
    assert rejected.value.reason == "not_an_event"


def test_a_signed_event_verifies_with_any_current_secret() -> None:
    for secret in SECRETS:
        payload, headers = _signed(_event(_refund()), secret)
        assert verify_webhook(payload=payload, headers=headers, secrets=SECRETS).provider_refund_id == "re_1"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({SIGNATURE_HEADER: "garbage"}, "malformed"),
        ({}, "malformed"),
        # {now}: filled in when the test runs — a time taken at collection is minutes old by then.
        ({SIGNATURE_HEADER: "t={now}"}, "no_signature"),
        ({SIGNATURE_HEADER: "t={now},v1=00"}, "mismatch"),
    ],
)
def test_a_bad_signature_header_is_rejected_with_its_reason(headers: dict[str, str], reason: str) -> None:
    payload = json.dumps(_event(_refund())).encode()
    headers = {name: value.format(now=int(time.time())) for name, value in headers.items()}

    with pytest.raises(WebhookSignatureInvalid) as rejected:
        verify_webhook(payload=payload, headers=headers, secrets=SECRETS)

    assert (rejected.value.reason, str(rejected.value)) == (reason, f"signature: {reason}")


def test_a_signature_older_than_the_tolerance_is_rejected() -> None:
    payload, headers = _signed(_event(_refund()), timestamp=int(time.time()) - 61)

    with pytest.raises(WebhookSignatureInvalid) as rejected:
        verify_webhook(payload=payload, headers=headers, secrets=SECRETS, tolerance_seconds=60)

    assert rejected.value.reason == "timestamp"


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b'{"type": "refund.updated"}', b'{"id": "evt_1"}'])
def test_a_signed_payload_that_is_no_event_is_rejected_after_the_signature(payload: bytes) -> None:
    headers = {SIGNATURE_HEADER: sign_payload(payload, "whsec_new")}

    with pytest.raises(WebhookRejected) as rejected:
        verify_webhook(payload=payload, headers=headers, secrets=SECRETS)

    assert not isinstance(rejected.value, WebhookSignatureInvalid)
    assert str(rejected.value) == "payload is not a provider event"


def test_the_provider_verifies_with_its_configured_secrets_and_tolerance() -> None:
    provider = StripeProtocolProvider(
        "http://127.0.0.1:9", "sk_test", 1, webhook_secrets=["whsec_new"], webhook_tolerance_seconds=60
    )
    payload, headers = _signed(_event(_refund()))

    assert provider.verify_webhook(payload=payload, headers={"stripe-signature": headers[SIGNATURE_HEADER]})
    with pytest.raises(WebhookSignatureInvalid):
        provider.verify_webhook(payload=payload, headers=_signed(_event(_refund()), "whsec_old")[1])
    assert provider.parse_event(json.loads(payload)).event_id == "evt_1"
