"""/v1/webhook_endpoints and /v1/events/{id}/redeliver: a merchant's endpoints, and never another merchant's."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from api.models import IdempotencyRecord
from audit.enums import AuditAction
from audit.models import AuditEvent
from core.errors import (
    ERR_AUTHZ_SCOPE,
    ERR_CONFLICT_IDEMPOTENCY,
    ERR_CONFLICT_STATE,
    ERR_IDEMPOTENCY_KEY_MISSING,
    ERR_NOT_FOUND,
    ERR_VALIDATION,
)
from events.enums import DeliveryTrigger, EndpointStatus
from events.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from events.signing import ROTATION_OVERLAP, secret_unseal
from refunds.enums import Scope
from tests.events.conftest import PUBLIC_URL
from tests.events.services.test_endpoints import UNSAFE_URLS
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db

ENDPOINT_FIELDS = {"id", "object", "url", "events", "description", "status", "disabled_reason", "created_at"}


@pytest.fixture
def acme(client_for):
    return client_for("acme-system")


@pytest.fixture
def intruder(globex, client_for):
    return client_for("globex-system", merchant="globex")


def register(c: APIClient, key: str = "k-1", **body):
    payload = {"url": PUBLIC_URL, "events": ["refund.*"], **body}
    return c.post("/v1/webhook_endpoints", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def endpoint(acme) -> dict:
    answer = register(acme)
    assert answer.status_code == 201, answer.json()
    return answer.json()


def an_event() -> Event:
    refund = make_refund(order=captured_order(), amount_minor=1000)
    return Event.objects.filter(refund=refund, type="refund.created").get()


# --- the attacks first ------------------------------------------------------------


def test_another_merchants_endpoint_answers_404_on_every_operation_like_an_unknown_one(acme, intruder, endpoint):
    event = an_event()
    unknown = "we_000000000000000000000000"
    calls = [
        lambda id: intruder.get(f"/v1/webhook_endpoints/{id}"),
        lambda id: intruder.patch(f"/v1/webhook_endpoints/{id}", {"disabled": True}, format="json"),
        lambda id: intruder.post(f"/v1/webhook_endpoints/{id}/rotate_secret"),
        lambda id: intruder.get(f"/v1/webhook_endpoints/{id}/deliveries"),
        lambda id: intruder.delete(f"/v1/webhook_endpoints/{id}"),
    ]
    for call in calls:
        foreign, nobody = call(endpoint["id"]), call(unknown)
        assert foreign.status_code == nobody.status_code == 404
        assert foreign.json()["code"] == nobody.json()["code"] == ERR_NOT_FOUND
        assert foreign.json()["message"] == nobody.json()["message"]
    # Their own event, to our endpoint: the endpoint is not theirs.
    [their_refund] = [make_refund(order=captured_order(order__merchant=intruder_merchant()), amount_minor=500)]
    their_event = Event.objects.filter(refund=their_refund).first()
    answer = intruder.post(f"/v1/events/{their_event.public_id}/redeliver", {"endpoint": endpoint["id"]}, format="json")
    assert answer.status_code == 404 and answer.json()["details"] == {"field": "endpoint"}
    # Our event, redelivered by them: not found.
    answer = intruder.post(f"/v1/events/{event.public_id}/redeliver", {}, format="json")
    assert answer.status_code == 404
    stored = WebhookEndpoint.objects.get(public_id=endpoint["id"])
    assert (stored.status, stored.deleted_at, len(stored.previous_secrets)) == (EndpointStatus.ENABLED, None, 0)
    assert not WebhookDelivery.objects.filter(trigger=DeliveryTrigger.REDELIVER).exists()
    assert intruder.get("/v1/webhook_endpoints").json()["data"] == []
    assert [e["id"] for e in acme.get("/v1/webhook_endpoints").json()["data"]] == [endpoint["id"]]


def intruder_merchant():
    from refunds.models import Merchant

    return Merchant.objects.get(slug="globex")


def test_another_merchants_endpoint_is_refused_as_a_cursor(acme, intruder, endpoint):
    answer = intruder.get(f"/v1/webhook_endpoints?after={endpoint['id']}")
    assert answer.status_code == 400 and answer.json()["details"] == {"fields": {"after": ["unknown"]}}


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_private_urls_are_refused_unless_allowed(acme, settings, url):
    refused = register(acme, url=url)
    assert refused.status_code == 400, refused.json()
    assert refused.json()["code"] == ERR_VALIDATION and refused.json()["details"] == {"field": "url"}
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    assert register(acme, key="k-2", url=url).status_code == 201
    assert WebhookEndpoint.objects.count() == 1


def test_the_secret_is_shown_once_and_stored_encrypted(acme, endpoint):
    assert set(endpoint) == ENDPOINT_FIELDS | {"secret"} and endpoint["secret"].startswith("whsec_")
    assert endpoint["object"] == "webhook_endpoint" and endpoint["status"] == "enabled"
    one = acme.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()
    assert set(one) == ENDPOINT_FIELDS
    assert "secret" not in json.dumps(acme.get("/v1/webhook_endpoints").json())
    stored = WebhookEndpoint.objects.get(public_id=endpoint["id"])
    assert endpoint["secret"] not in stored.secret_sealed and secret_unseal(stored.secret_sealed) == endpoint["secret"]
    # Nor kept in clear by the idempotency record that replays the answer.
    record = IdempotencyRecord.objects.get(key="k-1")
    assert endpoint["secret"] not in json.dumps(record.response_body)


# --- creating ---------------------------------------------------------------------


def test_a_create_needs_an_idempotency_key(acme):
    answer = acme.post("/v1/webhook_endpoints", {"url": PUBLIC_URL, "events": ["refund.*"]}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == ERR_IDEMPOTENCY_KEY_MISSING
    assert not WebhookEndpoint.objects.exists()


def test_a_retried_create_replays_the_same_endpoint_and_secret(acme, endpoint):
    again = register(acme)
    assert again.status_code == 201 and again["Idempotency-Status"] == "replayed"
    assert again.json() == endpoint
    assert WebhookEndpoint.objects.count() == 1
    other_body = register(acme, description="another")
    assert other_body.status_code == 409 and other_body.json()["code"] == ERR_CONFLICT_IDEMPOTENCY


def test_the_limit_is_a_400_naming_it(acme, settings):
    settings.WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT = 1
    assert register(acme, key="a").status_code == 201
    refused = register(acme, key="b")
    assert refused.status_code == 400 and refused.json()["details"] == {"limit": 1}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"events": []}, "events"),
        ({"events": ["refund.nope"]}, "events"),
        ({"events": "refund.*"}, "events"),
        ({"description": "x" * 501}, "description"),
        ({"url": 7}, "url"),
    ],
)
def test_malformed_bodies_name_the_field(acme, body, field):
    answer = register(acme, **body)
    assert answer.status_code == 400 and field in answer.json()["details"]["fields"]


def test_repeated_event_types_are_refused(acme):
    answer = register(acme, events=["refund.created", "refund.created"])
    assert answer.status_code == 400 and answer.json()["details"] == {"field": "events"}


# --- reading, changing, deleting, rotating -----------------------------------------


def test_patch_changes_what_it_names(acme, endpoint):
    path = f"/v1/webhook_endpoints/{endpoint['id']}"
    changed = acme.patch(path, {"events": ["refund.completed"], "description": "Finance"}, format="json").json()
    assert (changed["events"], changed["description"], changed["url"]) == (["refund.completed"], "Finance", PUBLIC_URL)
    disabled = acme.patch(path, {"disabled": True}, format="json").json()
    assert (disabled["status"], disabled["disabled_reason"]) == ("disabled", "merchant")
    enabled = acme.patch(path, {"disabled": False}, format="json").json()
    assert (enabled["status"], enabled["disabled_reason"]) == ("enabled", "")
    assert acme.patch(path, {}, format="json").json() == enabled
    refused = acme.patch(path, {"disabled": "yes"}, format="json")
    assert refused.status_code == 400 and "disabled" in refused.json()["details"]["fields"]
    refused = acme.patch(path, {"url": "https://169.254.169.254/"}, format="json")
    assert refused.status_code == 400 and refused.json()["details"] == {"field": "url"}


def test_delete_answers_deleted_then_404(acme, endpoint):
    path = f"/v1/webhook_endpoints/{endpoint['id']}"
    answer = acme.delete(path)
    assert answer.status_code == 200
    assert answer.json() == {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}
    assert acme.get(path).status_code == 404
    assert acme.delete(path).status_code == 404
    assert acme.get("/v1/webhook_endpoints").json()["data"] == []


def test_rotation_answers_the_new_secret_and_when_the_old_one_stops(acme, endpoint):
    before = timezone.now()
    answer = acme.post(f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == ENDPOINT_FIELDS | {"secret", "previous_secret_expires_at"}
    assert body["secret"] != endpoint["secret"] and body["secret"].startswith("whsec_")
    expires = parse_datetime(body["previous_secret_expires_at"])
    assert before + ROTATION_OVERLAP <= expires <= timezone.now() + ROTATION_OVERLAP
    stored = WebhookEndpoint.objects.get(public_id=endpoint["id"])
    assert [secret_unseal(e["sealed"]) for e in stored.previous_secrets] == [endpoint["secret"]]
    assert "secret" not in acme.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()


def test_endpoint_calls_are_audited_with_the_key(acme, endpoint):
    acme.patch(f"/v1/webhook_endpoints/{endpoint['id']}", {"description": "x"}, format="json")
    acme.post(f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret")
    acme.delete(f"/v1/webhook_endpoints/{endpoint['id']}")
    audit = AuditEvent.objects.filter(subject=f"webhook endpoint {endpoint['id']}").order_by("id")
    assert [a.action for a in audit] == [
        AuditAction.WEBHOOK_ENDPOINT_CREATED,
        AuditAction.WEBHOOK_ENDPOINT_UPDATED,
        AuditAction.WEBHOOK_ENDPOINT_SECRET_ROTATED,
        AuditAction.WEBHOOK_ENDPOINT_DELETED,
    ]
    assert all(a.actor_api_key_id is not None for a in audit)


@pytest.mark.parametrize("scopes", [[Scope.EVENTS_READ], [Scope.REFUNDS_READ, Scope.REFUNDS_CREATE]])
def test_endpoint_calls_and_redelivery_need_webhooks_write(endpoint, scopes, client_for):
    reader = client_for("reader", scopes=scopes)
    event = an_event()
    for answer in (
        reader.get("/v1/webhook_endpoints"),
        reader.post("/v1/webhook_endpoints", {}, format="json", HTTP_IDEMPOTENCY_KEY="z"),
        reader.get(f"/v1/webhook_endpoints/{endpoint['id']}"),
        reader.get(f"/v1/webhook_endpoints/{endpoint['id']}/deliveries"),
        reader.post(f"/v1/events/{event.public_id}/redeliver", {}, format="json"),
    ):
        assert answer.status_code == 403 and answer.json()["code"] == ERR_AUTHZ_SCOPE


# --- deliveries and redelivery ----------------------------------------------------


def attempts_for(endpoint_id: str, n: int) -> list[WebhookAttempt]:
    endpoint = WebhookEndpoint.objects.get(public_id=endpoint_id)
    event = an_event()
    delivery = WebhookDelivery.objects.get(event=event, endpoint=endpoint)
    start = timezone.now() - timedelta(hours=1)
    made = []
    for number in range(1, n + 1):
        made.append(
            WebhookAttempt.objects.create(
                delivery=delivery,
                endpoint=endpoint,
                number=number,
                # Two attempts share a start: the id breaks the tie, and no page skips or repeats one.
                started_at=start + timedelta(minutes=number // 2),
                status_code=500 if number < n else 200,
                latency_ms=40 + number,
                response_excerpt="oops" if number < n else "ok",
                succeeded=number == n,
            )
        )
    return made


def test_deliveries_list_the_attempts_newest_first_page_by_page(acme, endpoint):
    made = attempts_for(endpoint["id"], 5)
    path = f"/v1/webhook_endpoints/{endpoint['id']}/deliveries"
    seen, after = [], None
    while True:
        page = acme.get(path + "?limit=2" + (f"&after={after}" if after else "")).json()
        seen += page["data"]
        if not page["has_more"]:
            break
        after = page["next_after"]
    assert [a["attempt"] for a in seen] == [5, 4, 3, 2, 1]
    newest = seen[0]
    assert newest == {
        "id": made[-1].public_id,
        "object": "webhook_attempt",
        "event_id": made[-1].delivery.event.public_id,
        "event_type": "refund.created",
        "attempt": 5,
        "started_at": newest["started_at"],
        "status_code": 200,
        "latency_ms": 45,
        "response_excerpt": "ok",
        "error": "",
        "succeeded": True,
    }


def test_an_attempt_of_another_endpoint_is_an_unknown_cursor(acme, endpoint):
    [theirs] = attempts_for(endpoint["id"], 1)
    other = register(acme, key="k-2").json()
    answer = acme.get(f"/v1/webhook_endpoints/{other['id']}/deliveries?after={theirs.public_id}")
    assert answer.status_code == 400 and answer.json()["details"] == {"fields": {"after": ["unknown"]}}


def test_redeliver_to_one_endpoint_or_to_all(acme, endpoint):
    event = an_event()
    path = f"/v1/events/{event.public_id}/redeliver"
    one = acme.post(path, {"endpoint": endpoint["id"]}, format="json")
    assert one.status_code == 202
    assert one.json()["event_id"] == event.public_id
    [queued] = one.json()["deliveries"]
    assert (queued["endpoint"], queued["trigger"], queued["status"]) == (endpoint["id"], "redeliver", "pending")
    again = acme.post(path, format="json")
    assert again.status_code == 202
    # The endpoint's redelivery is still pending: the same one is answered, none is added.
    assert again.json()["deliveries"] == one.json()["deliveries"]
    assert WebhookDelivery.objects.filter(event=event, trigger=DeliveryTrigger.REDELIVER).count() == 1
    audit = AuditEvent.objects.filter(action=AuditAction.EVENT_REDELIVERED)
    assert audit.count() == 2 and all(a.refund_id == event.refund_id for a in audit)


def test_redeliver_refusals(acme, endpoint):
    event = an_event()
    path = f"/v1/events/{event.public_id}/redeliver"
    acme.patch(f"/v1/webhook_endpoints/{endpoint['id']}", {"disabled": True}, format="json")
    disabled = acme.post(path, {"endpoint": endpoint["id"]}, format="json")
    assert disabled.status_code == 409 and disabled.json()["code"] == ERR_CONFLICT_STATE
    assert "enable it first" in disabled.json()["message"]
    nowhere = acme.post(path, {}, format="json")
    assert nowhere.status_code == 409 and "nowhere to send it" in nowhere.json()["message"]
    acme.delete(f"/v1/webhook_endpoints/{endpoint['id']}")
    assert acme.post(path, {"endpoint": endpoint["id"]}, format="json").status_code == 404
    assert acme.post("/v1/events/evt_000000000000000000000000/redeliver", {}, format="json").status_code == 404
