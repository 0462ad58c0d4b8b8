"""The webhook inbox: verified by the named provider, stored once, applied once (SPEC §6, journey 9)."""

import json
import logging
import time

import pytest

from audit.enums import AuditAction
from audit.models import AuditEvent
from providers.stripe.signature import sign_payload
from refunds.enums import RefundState, WebhookStatus
from refunds.models import Refund, WebhookEvent
from refunds.services.webhooks import WebhookRejected, webhook_receive
from tests.refunds.factories import captured_order, make_refund
from tests.support.stripe_events import refund_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(settings):
    settings.PROVIDER = "stripe"
    settings.PROVIDER_WEBHOOK_SECRET = "whsec_old, whsec_new"
    return "whsec_new"


def event(refund, status="succeeded", event_id="evt_1", provider_id="re_abc"):
    return refund_event(
        event_id=event_id,
        provider_refund_id=provider_id,
        status=status,
        amount=refund.amount_minor,
        currency=refund.currency.lower(),
        refund_id=refund.public_id,
    )


def receive(payload: bytes, signature: str, provider: str = "stripe"):
    return webhook_receive(provider=provider, payload=payload, headers={"Stripe-Signature": signature})


def submitted_refund(**payment_fields):
    refund = make_refund(order=captured_order(**payment_fields), amount_minor=1000)
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING)
    return refund


def test_signed_event_completes_the_refund_found_by_metadata(secret):
    refund = submitted_refund()
    payload = event(refund)
    result = receive(payload, sign_payload(payload, secret))
    assert result.status == WebhookStatus.PROCESSED
    refund.refresh_from_db()
    assert (refund.state, refund.provider_refund_id, refund.provider_status) == (
        RefundState.COMPLETED,
        "re_abc",
        "succeeded",
    )
    stored = WebhookEvent.objects.get()
    assert (stored.provider, stored.event_id, stored.provider_refund_id) == ("stripe", "evt_1", "re_abc")
    assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_RECEIVED, refund=refund).count() == 1


def test_the_signature_header_is_found_whatever_its_case(secret):
    refund = submitted_refund()
    payload = event(refund)
    headers = {"stripe-signature": sign_payload(payload, secret)}
    assert webhook_receive(provider="stripe", payload=payload, headers=headers).status == "processed"


def test_rotated_old_secret_still_verifies(secret):
    refund = submitted_refund()
    payload = event(refund)
    assert receive(payload, sign_payload(payload, "whsec_old")).status == "processed"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (lambda p: sign_payload(p, "whsec_wrong"), "mismatch"),
        (lambda p: sign_payload(p, "whsec_new", timestamp=int(time.time()) - 301), "timestamp"),
        (lambda p: "t=1,v1=deadbeef", "timestamp"),
        (lambda p: "", "malformed"),
    ],
)
def test_unverifiable_events_are_rejected_logged_and_not_stored(secret, header, reason, caplog):
    refund = submitted_refund()
    payload = event(refund)
    with caplog.at_level(logging.WARNING, logger="refunds.webhooks"), pytest.raises(WebhookRejected) as rejected:
        receive(payload, header(payload))
    assert str(rejected.value) == f"signature: {reason}"
    assert [r.reason for r in caplog.records if getattr(r, "message_id", "") == "MSG.webhook.rejected"] == [reason]
    assert not WebhookEvent.objects.exists()


def test_tampered_body_is_rejected(secret):
    refund = submitted_refund()
    payload = event(refund)
    header = sign_payload(payload, secret)
    with pytest.raises(WebhookRejected):
        receive(payload.replace(b"succeeded", b"failed"), header)


def test_an_event_signed_with_the_right_secret_for_another_provider_is_rejected(secret):
    refund = submitted_refund()
    payload = event(refund)
    with pytest.raises(WebhookRejected) as rejected:
        receive(payload, sign_payload(payload, secret), provider="manual")
    assert rejected.value.reason == "no_webhooks"
    with pytest.raises(WebhookRejected) as unknown:
        receive(payload, sign_payload(payload, secret), provider="adyen")
    assert unknown.value.reason == "unknown_provider"
    assert not WebhookEvent.objects.exists()
    refund.refresh_from_db()
    assert refund.state == RefundState.SUBMITTING


def test_an_event_is_applied_only_to_refunds_of_payments_its_provider_holds(secret):
    refund = submitted_refund(provider="manual")  # a payment captured through another provider
    payload = event(refund)

    result = receive(payload, sign_payload(payload, secret))

    assert result.status == WebhookStatus.UNKNOWN_REFUND
    refund.refresh_from_db()
    assert refund.state == RefundState.SUBMITTING


def test_replays_are_counted_and_change_nothing(secret):
    refund = submitted_refund()
    payload = event(refund)
    results = [receive(payload, sign_payload(payload, secret)).status for _ in range(5)]
    assert results == ["processed"] + ["duplicate"] * 4
    stored = WebhookEvent.objects.get()
    assert stored.replay_count == 4


def test_a_failed_event_older_than_the_success_is_recorded_and_ignored(secret):
    # A failure the provider reported before the success we applied is stale news, not a reversal
    # (a reversal after completion moves the refund: tests/refunds/services/test_provider_reversal.py).
    refund = submitted_refund()
    done = event(refund, "succeeded", "evt_done")
    receive(done, sign_payload(done, secret))
    body = json.loads(event(refund, "failed", "evt_late"))
    body["created"] -= 60
    late = json.dumps(body).encode()
    result = receive(late, sign_payload(late, secret))
    assert result.status == WebhookStatus.IGNORED
    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED


def test_event_for_an_unknown_refund_is_kept_for_reconciliation(secret):
    stranger = make_refund(order=captured_order(), amount_minor=500)
    payload = event(stranger, provider_id="re_from_dashboard")
    Refund.objects.filter(pk=stranger.pk).update(public_id="rf_someone_else")

    result = receive(payload, sign_payload(payload, secret))

    assert result.status == WebhookStatus.UNKNOWN_REFUND
    assert WebhookEvent.objects.get().provider_refund_id == "re_from_dashboard"


def test_an_event_about_something_else_is_stored_and_ignored(secret):
    payload = json.dumps({"id": "evt_charge", "type": "charge.succeeded", "data": {"object": {"object": "charge"}}})
    result = receive(payload.encode(), sign_payload(payload.encode(), secret))
    assert result.status == WebhookStatus.IGNORED
    assert WebhookEvent.objects.get().note == "not a refund event"


@pytest.mark.parametrize("body", [b"nope", b"[]", b'{"type": "refund.updated"}'])
def test_a_signed_body_that_is_not_an_event_is_rejected(secret, body):
    with pytest.raises(WebhookRejected) as rejected:
        receive(body, sign_payload(body, secret))
    assert str(rejected.value) == "payload is not a provider event"
    assert not WebhookEvent.objects.exists()
