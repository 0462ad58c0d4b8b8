"""Issue 14: merchants' systems get every refund event as a signed webhook, over real HTTP on loopback.

One stack for the module, run as production runs it (gunicorn, a Celery
worker with beat that leaves the webhooks queue alone, a webhooks worker in
threads, the provider simulator), with WEBHOOKS_ALLOW_PRIVATE_URLS=1 so its
endpoints may be the webhook receiver on loopback (devtools.merchant_receiver,
a real HTTP server). Each delivery is checked the way a merchant would check
it: `standardwebhooks.Webhook(secret).verify(body, headers)`.
"""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from events.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from refunds.enums import Role
from tests.refunds.factories import api_key
from tests.support.live import ApiClient, GunicornServer, wait_for
from tests.support.merchant import (
    create_refund,
    listed_events,
    merchant_client,
    push_order,
    refund_body,
    register_endpoint,
    verified_deliveries,
    wait_state,
)
from tests.support.stack import Stack
from tests.support.webhook_receiver import WebhookReceiver

# Retries come back within a test (a receiver that was down); a slow endpoint may be held up to
# HELD_SECONDS, inside the attempt's timeout.
HELD_SECONDS = 25
WEBHOOK_ENV = {
    "WEBHOOKS_ALLOW_PRIVATE_URLS": "1",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "WEBHOOK_RETRY_MAX_SECONDS": "3",
    "WEBHOOK_SWEEP_SECONDS": "1",
    "WEBHOOK_QUEUED_TTL_SECONDS": "5",
    "WEBHOOK_TIMEOUT_SECONDS": str(HELD_SECONDS + 5),
}


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    running = Stack(webhooks_worker=True, extra_env=WEBHOOK_ENV).start()
    yield running
    running.stop()


@pytest.fixture
def decider(stack, transactional_db) -> ApiClient:
    return ApiClient(stack.url, api_key("decider", role=Role.AGENT))


def _reviewed(merchant: ApiClient, key: str) -> str:
    """A refund held for review (goodwill): `requested`."""
    order_id, _ = push_order(merchant, mode="ok", amount_minor=10000)
    created = merchant.post(
        f"/v1/orders/{order_id}/refunds", refund_body(4000, reason="goodwill"), **{"Idempotency-Key": key}
    )
    assert created.status_code == 202, created.text
    assert created.json()["state"] == "requested"
    return created.json()["refund_id"]


def _arrived(receiver: WebhookReceiver, path: str, event_ids: set[str], timeout: float = 60.0) -> list[dict]:
    """The requests at `path` once every one of `event_ids` has arrived there."""

    def all_there() -> list[dict] | None:
        found = receiver.requests(path)
        return found if event_ids <= {r["webhook_id"] for r in found} else None

    return wait_for(all_there, timeout=timeout, interval=0.2, message=f"{len(event_ids)} events at {path}")


def _of(events: list[dict], refund_id: str) -> list[dict]:
    return sorted((e for e in events if e["data"]["refund_id"] == refund_id), key=lambda e: e["sequence"])


def _types(events: list[dict]) -> list[str]:
    # The provider may accept a refund and settle it later (refund.updated, provider_pending) or at once.
    return [e["type"] for e in events if e["type"] != "refund.updated" or e["data"]["state"] != "provider_pending"]


def test_every_transition_arrives_once_signed_and_verifiable(stack, stack_merchant, decider, merchant_receiver):
    _, secret = register_endpoint(stack_merchant, merchant_receiver.endpoint_url("/hooks"))

    approved = _reviewed(stack_merchant, "j15-approved")
    assert decider.post(f"/v1/refunds/{approved}/decision", {"decision": "approve"}).status_code == 200
    denied = _reviewed(stack_merchant, "j15-denied")
    deny = {"decision": "deny", "note": "Delivered and signed for."}
    assert decider.post(f"/v1/refunds/{denied}/decision", deny).status_code == 200
    canceled = _reviewed(stack_merchant, "j15-canceled")
    assert stack_merchant.post(f"/v1/refunds/{canceled}/cancel", {"note": "Customer kept it."}).status_code == 200
    order_id, _ = push_order(stack_merchant, mode="fail", amount_minor=4000)
    failed = create_refund(stack_merchant, order_id, 4000)
    finals = {
        approved: wait_state(stack_merchant, approved, {"completed"}, timeout=60),
        denied: wait_state(stack_merchant, denied, {"denied"}),
        canceled: wait_state(stack_merchant, canceled, {"canceled"}),
        failed: wait_state(stack_merchant, failed, {"failed"}, timeout=60),
    }

    listed = listed_events(stack_merchant)
    requests_ = _arrived(merchant_receiver, "/hooks", {e["id"] for e in listed})
    received = verified_deliveries(requests_, secret)

    # Once each: one request per event (no webhook-id twice), and exactly the events the API lists.
    assert sorted(r["webhook_id"] for r in requests_) == sorted(e["id"] for e in listed)
    for request in requests_:
        headers = {name.lower(): value for name, value in request["headers"].items()}
        assert request["method"] == "POST" and headers["content-type"].startswith("application/json")
    by_id = {e["id"]: e for e in listed}
    assert all(event == by_id[event["id"]] for event in received)  # the body is the event as the API lists it
    assert [e["sequence"] for e in listed] == list(range(1, len(listed) + 1))
    expected = {
        approved: ["refund.created", "refund.approved", "refund.submitted", "refund.completed"],
        denied: ["refund.created", "refund.denied"],
        canceled: ["refund.created", "refund.canceled"],
        failed: ["refund.created", "refund.approved", "refund.submitted", "refund.failed"],
    }
    for refund_id, types in expected.items():
        events = _of(received, refund_id)
        assert _types(events) == types, refund_id
        # The last event carries the refund as GET /v1/refunds/{id} returns it now.
        assert events[-1]["data"] == finals[refund_id]
        assert events[0]["data"]["state"] == "requested"
    # One delivery per event per endpoint, each delivered at its first attempt.
    assert WebhookDelivery.objects.filter(status="delivered").count() == len(listed)
    assert WebhookAttempt.objects.count() == len(listed)


def test_after_a_rotation_either_secret_alone_verifies(stack, stack_merchant, merchant_receiver):
    endpoint_id, old = register_endpoint(stack_merchant, merchant_receiver.endpoint_url("/rotating"))
    order_id, _ = push_order(stack_merchant, mode="ok", amount_minor=3000)
    before = create_refund(stack_merchant, order_id, 1000)
    wait_state(stack_merchant, before, {"completed"})
    first = _arrived(merchant_receiver, "/rotating", {e["id"] for e in listed_events(stack_merchant)})
    verified_deliveries(first, old)

    rotated = stack_merchant.post(f"/v1/webhook_endpoints/{endpoint_id}/rotate_secret", {})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    order_id, _ = push_order(stack_merchant, mode="ok", amount_minor=3000)  # (one create per order: its key)
    during = create_refund(stack_merchant, order_id, 1000)
    wait_state(stack_merchant, during, {"completed"})
    after_ids = {e["id"] for e in _of(listed_events(stack_merchant), during)}
    requests_ = [r for r in _arrived(merchant_receiver, "/rotating", after_ids) if r["webhook_id"] in after_ids]

    assert len(requests_) == len(after_ids) >= 4
    verified_deliveries(requests_, old)  # the receiver not switched over yet
    verified_deliveries(requests_, new)  # the receiver switched over
    for request in requests_:
        assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    with pytest.raises(WebhookVerificationError):
        verified_deliveries(first, new)  # signed before the rotation: the old secret only


def test_a_private_url_is_refused_without_the_setting(stack, stack_merchant, merchant_receiver):
    # The same app and database, served without WEBHOOKS_ALLOW_PRIVATE_URLS (production's default).
    strict = GunicornServer(env={**stack.env, "WEBHOOKS_ALLOW_PRIVATE_URLS": "0"}, workers=1)
    strict.start()
    try:
        client = ApiClient(strict.url, api_key("strict-merchant"))
        for url in (
            merchant_receiver.endpoint_url("/private"),  # http://127.0.0.1:<port>/private
            "https://127.0.0.1/hooks",
            "https://10.0.0.8/hooks",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/hooks",
            "https://localhost/hooks",
        ):
            response = client.post(
                "/v1/webhook_endpoints", {"url": url, "events": ["refund.*"]}, **{"Idempotency-Key": f"strict {url}"}
            )
            assert response.status_code == 400, (url, response.text)
            assert response.json()["details"]["field"] == "url", response.text
        assert client.get("/v1/webhook_endpoints").json()["data"] == []
    finally:
        strict.stop()
    assert not WebhookEndpoint.objects.exists()
    # With the setting (the stack), the receiver's loopback URL is accepted: the refusal was the rule, not the URL.
    register_endpoint(stack_merchant, merchant_receiver.endpoint_url("/private"))


def test_one_merchant_never_sees_another_merchants_events(stack, transactional_db, merchant_receiver):
    acme = merchant_client(stack.url, "j15-acme")
    globex = merchant_client(stack.url, "j15-globex")
    _, acme_secret = register_endpoint(acme, merchant_receiver.endpoint_url("/a"))
    _, globex_secret = register_endpoint(globex, merchant_receiver.endpoint_url("/b"))
    refunds = {}
    for client in (acme, globex):
        order_id, _ = push_order(client, mode="ok", amount_minor=5000)
        refunds[client] = create_refund(client, order_id, 2000)
    for client, refund_id in refunds.items():
        wait_state(client, refund_id, {"completed"})

    acme_listed, globex_listed = listed_events(acme), listed_events(globex)
    acme_received = verified_deliveries(_arrived(merchant_receiver, "/a", {e["id"] for e in acme_listed}), acme_secret)
    globex_received = verified_deliveries(
        _arrived(merchant_receiver, "/b", {e["id"] for e in globex_listed}), globex_secret
    )

    assert {e["data"]["refund_id"] for e in acme_listed} == {refunds[acme]}
    assert {e["data"]["refund_id"] for e in globex_listed} == {refunds[globex]}
    assert {e["id"] for e in acme_received} == {e["id"] for e in acme_listed}
    assert {e["id"] for e in globex_received} == {e["id"] for e in globex_listed}
    # Each merchant numbers its own events from 1.
    assert [e["sequence"] for e in acme_listed] == list(range(1, len(acme_listed) + 1))
    assert [e["sequence"] for e in globex_listed] == list(range(1, len(globex_listed) + 1))
    # The other's event is not found, not forbidden: its existence is not told.
    other = globex_listed[0]["id"]
    assert acme.get(f"/v1/events/{other}").status_code == 404
    assert acme.get(f"/v1/events?after={other}").status_code == 400
    assert Event.objects.count() == len(acme_listed) + len(globex_listed)


def test_a_slow_endpoint_never_delays_another_merchants(stack, transactional_db, merchant_receiver):
    slow = merchant_client(stack.url, "j15-slow")
    quick = merchant_client(stack.url, "j15-quick")
    slow_endpoint, slow_secret = register_endpoint(slow, merchant_receiver.endpoint_url("/slow"))
    _, quick_secret = register_endpoint(quick, merchant_receiver.endpoint_url("/quick"))
    # The slow merchant's server takes its time: each request waits until the test lets it answer.
    merchant_receiver.set_mode("/slow", hold=True, delay_seconds=HELD_SECONDS)
    try:
        order_id, _ = push_order(slow, mode="ok", amount_minor=5000)
        slow_refund = create_refund(slow, order_id, 2000)
        in_flight = merchant_receiver.wait_for_requests("/slow", 1)
        assert len(in_flight) == 1

        order_id, _ = push_order(quick, mode="ok", amount_minor=5000)
        quick_refund = create_refund(quick, order_id, 2000)
        wait_state(quick, quick_refund, {"completed"})
        quick_listed = listed_events(quick)
        verified_deliveries(_arrived(merchant_receiver, "/quick", {e["id"] for e in quick_listed}), quick_secret)

        # Every event of the quick merchant arrived while the slow one's first delivery was still unanswered:
        # no attempt of it is recorded yet, and nothing more of the slow merchant was sent meanwhile.
        assert not WebhookAttempt.objects.filter(endpoint__public_id=slow_endpoint).exists()
        assert [r["id"] for r in merchant_receiver.requests("/slow")] == [in_flight[0]["id"]]
    finally:
        merchant_receiver.set_mode("/slow", status=200)  # answers now, and lets the held request answer

    wait_state(slow, slow_refund, {"completed"})
    slow_listed = listed_events(slow)
    verified_deliveries(_arrived(merchant_receiver, "/slow", {e["id"] for e in slow_listed}), slow_secret)
    first = WebhookAttempt.objects.filter(endpoint__public_id=slow_endpoint).order_by("started_at", "pk").first()
    assert first is not None and first.succeeded and first.status_code == 200
