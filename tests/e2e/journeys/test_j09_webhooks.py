"""SPEC §11 journey 9: a webhook replayed 5 times is processed once; a bad signature → 400."""

import json
import time

import requests

from audit.models import AuditEvent
from providers.stripe.signature import sign_payload
from refunds.enums import WebhookStatus
from refunds.models import WebhookEvent
from tests.support.live import SIM_WEBHOOK_SECRET
from tests.support.merchant import push_order, refund_body, wait_state


def _post(stack, payload: bytes, signature: str) -> requests.Response:
    return requests.post(
        f"{stack.url}/webhooks/payments",
        data=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        timeout=10,
    )


def test_replayed_webhook_is_processed_once(stack, stack_merchant):
    order_id, _ = push_order(stack_merchant, mode="async", amount_minor=3000)
    refund_id = stack_merchant.post(
        f"/v1/orders/{order_id}/refunds", refund_body(3000), **{"Idempotency-Key": "j9"}
    ).json()["refund_id"]
    refund = wait_state(stack_merchant, refund_id, {"completed"}, timeout=30)
    settled = WebhookEvent.objects.filter(refund__public_id=refund_id, event_type="refund.updated").first()
    assert settled is not None and settled.status == WebhookStatus.PROCESSED
    payload = json.dumps(settled.payload).encode()

    answers = [_post(stack, payload, sign_payload(payload, SIM_WEBHOOK_SECRET)) for _ in range(5)]

    assert {a.status_code for a in answers} == {200}
    assert {a.json()["status"] for a in answers} == {"duplicate"}
    settled.refresh_from_db()
    assert settled.replay_count == 5
    events_for_it = AuditEvent.objects.filter(refund__public_id=refund_id, note__contains=settled.event_id)
    assert events_for_it.count() == 1
    assert stack_merchant.get(f"/v1/refunds/{refund_id}").json()["state"] == refund["state"] == "completed"
    metrics = requests.get(f"{stack.url}/metrics", timeout=10).text
    assert "webhook_replay_dedup_total" in metrics


def test_bad_signature_is_400_and_nothing_is_stored(stack, transactional_db):
    event = {"id": "evt_forged", "type": "refund.updated", "data": {"object": {"object": "refund", "id": "re_x"}}}
    payload = json.dumps(event).encode()

    forged = _post(stack, payload, sign_payload(payload, "whsec_wrong"))
    stale = _post(stack, payload, sign_payload(payload, SIM_WEBHOOK_SECRET, timestamp=int(time.time()) - 3600))
    unsigned = _post(stack, payload, "")

    assert [r.status_code for r in (forged, stale, unsigned)] == [400, 400, 400]
    assert forged.json()["code"] == "ERR.WEBHOOK.rejected"
    assert not WebhookEvent.objects.filter(event_id="evt_forged").exists()


def test_event_for_unknown_refund_is_kept_for_reconciliation(stack, transactional_db):
    event = {
        "id": "evt_stranger",
        "type": "refund.updated",
        "created": int(time.time()),
        "data": {"object": {"object": "refund", "id": "re_unknown", "status": "succeeded", "amount": 10}},
    }
    payload = json.dumps(event).encode()

    answer = _post(stack, payload, sign_payload(payload, SIM_WEBHOOK_SECRET))

    assert answer.status_code == 200
    assert WebhookEvent.objects.get(event_id="evt_stranger").status == WebhookStatus.UNKNOWN_REFUND
