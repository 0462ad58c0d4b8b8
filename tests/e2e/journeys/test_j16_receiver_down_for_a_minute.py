"""Issue 14: the merchant's webhook receiver is down for a minute; afterwards it gets every event.

A real stack run as production runs it (a webhooks worker of its own, in
threads) with short retry settings, and the webhook receiver on loopback.
The receiver is stopped while refunds keep being asked for, approved,
denied and completed for sixty seconds; the deliveries fail (connection
refused) and back off. Started again on the same port, it receives every
event written since it went down, each verifiable with the endpoint's
secret, and every delivery ends `delivered`.
"""

from __future__ import annotations

import itertools
import time

import pytest

from events.models import WebhookAttempt, WebhookDelivery
from refunds.enums import Role
from tests.refunds.factories import api_key
from tests.support.live import ApiClient, wait_for, wait_for_progress
from tests.support.merchant import (
    create_refund,
    listed_events,
    push_order,
    refund_body,
    register_endpoint,
    verified_deliveries,
    wait_state,
)
from tests.support.stack import Stack

OUTAGE_SECONDS = 60.0
WEBHOOK_ENV = {
    "WEBHOOKS_ALLOW_PRIVATE_URLS": "1",
    # Retries come back within seconds (the defaults wait up to 6 hours between tries).
    "WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "WEBHOOK_RETRY_MAX_SECONDS": "3",
    "WEBHOOK_SWEEP_SECONDS": "1",
    "WEBHOOK_QUEUED_TTL_SECONDS": "5",
}


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    running = Stack(webhooks_worker=True, extra_env=WEBHOOK_ENV).start()
    yield running
    running.stop()


def test_a_receiver_down_for_a_minute_gets_every_event_afterwards(stack, stack_merchant, merchant_receiver):
    decider = ApiClient(stack.url, api_key("decider", role=Role.AGENT))
    _, secret = register_endpoint(stack_merchant, merchant_receiver.endpoint_url("/hooks"))
    order_id, _ = push_order(stack_merchant, mode="ok", amount_minor=5000)
    wait_state(stack_merchant, create_refund(stack_merchant, order_id, 2000), {"completed"})
    before = {e["id"] for e in listed_events(stack_merchant)}
    wait_for(
        lambda: before <= {r["webhook_id"] for r in merchant_receiver.requests("/hooks")},
        message="the events before the outage to arrive",
    )

    merchant_receiver.stop()
    down_at = time.monotonic()
    finals: dict[str, str] = {}
    # The merchant's business goes on while its receiver is down: refunds asked for, decided, completed.
    for n in itertools.count(1):
        if time.monotonic() - down_at >= OUTAGE_SECONDS:
            break
        order_id, _ = push_order(stack_merchant, mode="ok", amount_minor=10000)
        finals[create_refund(stack_merchant, order_id, 2000)] = "completed"  # approved by the policy
        order_id, _ = push_order(stack_merchant, mode="ok", amount_minor=10000)
        reviewed = stack_merchant.post(
            f"/v1/orders/{order_id}/refunds", refund_body(4000, reason="goodwill"), **{"Idempotency-Key": f"j16-{n}"}
        ).json()["refund_id"]
        decision = {"decision": "approve"} if n % 2 else {"decision": "deny", "note": "Delivered and signed for."}
        assert decider.post(f"/v1/refunds/{reviewed}/decision", decision).status_code == 200
        finals[reviewed] = "completed" if n % 2 else "denied"
        # The pace of the fault, not a wait for a condition: refunds keep coming for the whole minute.
        time.sleep(2.0)
    assert WebhookAttempt.objects.filter(succeeded=False, status_code__isnull=True).exists(), "no attempt met it"
    for refund_id, state in finals.items():
        wait_state(stack_merchant, refund_id, {state}, timeout=60)  # every event there will be is written
    wanted = {e["id"] for e in listed_events(stack_merchant)} - before
    assert len(wanted) >= 4 * len(finals) // 2  # created + decided (+ submitted, completed) each
    assert WebhookDelivery.objects.filter(status="delivered").count() <= len(before)  # none got through

    merchant_receiver.start()  # the same port, empty

    def arrived() -> int:
        return len(wanted & {r["webhook_id"] for r in merchant_receiver.requests("/hooks")})

    wait_for_progress(arrived, target=len(wanted), stall_timeout=60, message="the events written while it was down")
    received = verified_deliveries(
        [r for r in merchant_receiver.requests("/hooks") if r["webhook_id"] in wanted], secret
    )
    assert {e["id"] for e in received} == wanted
    wait_for(
        lambda: not WebhookDelivery.objects.exclude(status="delivered").exists(),
        timeout=30,
        message="every delivery to be recorded delivered",
    )
    assert WebhookDelivery.objects.count() == len(wanted | before)
