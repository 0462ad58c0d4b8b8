import json
import time

import pytest

from providers.stripe.signature import sign_payload
from refunds.enums import RefundState
from refunds.models import WebhookEvent
from refunds.services.webhooks import WebhookRejected, webhook_receive
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(settings):
    settings.PROVIDER_WEBHOOK_SECRET = "whsec_old, whsec_new"
    return "whsec_new"


def event(refund, status="succeeded", event_id="evt_1", provider_id="re_abc"):
    body = {
        "id": event_id,
        "type": "refund.updated",
        "created": int(time.time()),
        "data": {
            "object": {
                "object": "refund",
                "id": provider_id,
                "status": status,
                "amount": refund.amount_minor,
                "metadata": {"refund_id": refund.public_id},
            }
        },
    }
    return json.dumps(body).encode()


def submitted_refund():
    refund = make_refund(order=captured_order(), amount_minor=1000)
    from refunds.models import Refund

    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING)
    return refund


def test_signed_event_completes_the_refund_found_by_metadata(secret):
    refund = submitted_refund()
    payload = event(refund)
    result = webhook_receive(payload=payload, signature_header=sign_payload(payload, secret))
    assert result.status == WebhookEvent.STATUS_PROCESSED
    refund.refresh_from_db()
    assert (refund.state, refund.provider_refund_id) == (RefundState.COMPLETED, "re_abc")


def test_rotated_old_secret_still_verifies(secret):
    refund = submitted_refund()
    payload = event(refund)
    assert webhook_receive(payload=payload, signature_header=sign_payload(payload, "whsec_old")).status == "processed"


@pytest.mark.parametrize(
    "header",
    [
        lambda p: sign_payload(p, "whsec_wrong"),
        lambda p: sign_payload(p, "whsec_new", timestamp=int(time.time()) - 301),
        lambda p: "t=1,v1=deadbeef",
        lambda p: "",
    ],
)
def test_unverifiable_events_are_rejected_and_not_stored(secret, header):
    refund = submitted_refund()
    payload = event(refund)
    with pytest.raises(WebhookRejected):
        webhook_receive(payload=payload, signature_header=header(payload))
    assert not WebhookEvent.objects.exists()


def test_tampered_body_is_rejected(secret):
    refund = submitted_refund()
    payload = event(refund)
    header = sign_payload(payload, secret)
    with pytest.raises(WebhookRejected):
        webhook_receive(payload=payload.replace(b"succeeded", b"failed"), signature_header=header)


def test_replays_are_counted_and_change_nothing(secret):
    refund = submitted_refund()
    payload = event(refund)
    for _ in range(5):
        webhook_receive(payload=payload, signature_header=sign_payload(payload, secret))
    stored = WebhookEvent.objects.get()
    assert stored.replay_count == 4


def test_late_failed_event_after_completion_is_recorded_and_ignored(secret):
    refund = submitted_refund()
    done = event(refund, "succeeded", "evt_done")
    webhook_receive(payload=done, signature_header=sign_payload(done, secret))
    late = event(refund, "failed", "evt_late")
    result = webhook_receive(payload=late, signature_header=sign_payload(late, secret))
    assert result.status == WebhookEvent.STATUS_IGNORED
    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED


def test_non_json_body_is_rejected(secret):
    with pytest.raises(WebhookRejected):
        webhook_receive(payload=b"nope", signature_header=sign_payload(b"nope", secret))
