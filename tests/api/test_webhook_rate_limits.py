"""Attack: a webhooks:write key turns our workers into an unthrottled HTTP cannon at any public host.

The fix: the three calls are throttled like a create (api.throttling.WebhookWriteThrottle), a pending
redelivery is returned rather than doubled (tests/events/services/test_redeliver.py), and a rotation
keeps only the secret it replaced (tests/events/services/test_endpoints.py).

A merchant registers up to 16 endpoints at a third party's public https URLs (nothing proves it owns
them) and loops `POST /v1/events/{id}/redeliver` {}: each call writes one more pending delivery per
endpoint — no rate limit on the view (api/views_events.py EventRedeliverView has no throttle_classes,
unlike the refund creates and decisions), no dedupe of a redelivery already pending for the same
event and endpoint. The outbox grows without bound and the webhook workers spend their slots on it.
The same for POST /v1/webhook_endpoints and rotate_secret (each rotation adds a live previous secret:
a signature more on every request for 24 h).
"""

from __future__ import annotations

import pytest

from events.enums import DeliveryStatus, DeliveryTrigger
from events.models import Event, WebhookDelivery
from tests.api.test_webhook_endpoints import acme, endpoint, register  # noqa: F401 - fixtures and helper
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def test_redeliver_is_rate_limited_like_the_other_writes(acme, endpoint, settings):  # noqa: F811
    settings.RATE_LIMIT_CREATE_PER_MINUTE = 5
    settings.RATE_LIMIT_DECIDE_PER_MINUTE = 5
    refund = make_refund(order=captured_order(), amount_minor=1000)
    event = Event.objects.filter(refund=refund, type="refund.created").get()
    answers = [acme.post(f"/v1/events/{event.public_id}/redeliver", {}, format="json").status_code for _ in range(20)]
    queued = WebhookDelivery.objects.filter(
        event=event, trigger=DeliveryTrigger.REDELIVER, status=DeliveryStatus.PENDING
    ).count()
    assert 429 in answers, f"20 redeliveries answered {sorted(set(answers))}; {queued} deliveries pending"
    assert queued == 1  # and the ones let through share one pending redelivery


def test_rotating_is_rate_limited(acme, endpoint, settings):  # noqa: F811
    settings.RATE_LIMIT_CREATE_PER_MINUTE = 3
    rotations = [acme.post(f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret") for _ in range(8)]
    assert {r.status_code for r in rotations} == {200, 429}  # (a minute may turn over in between: 200s again)
    limited = next(r for r in rotations if r.status_code == 429)
    assert limited.json()["code"] == "ERR.RATE_LIMITED" and int(limited["Retry-After"]) >= 1
    # One bucket for the three webhook writes (apart from the refund creates'): registering is limited now too.
    assert register(acme, key="k-2").status_code == 429


def test_registering_is_rate_limited(acme, settings):  # noqa: F811
    settings.RATE_LIMIT_CREATE_PER_MINUTE = 3
    creates = [register(acme, key=f"k-{n}").status_code for n in range(8)]
    assert set(creates) == {201, 429}
    assert acme.get("/v1/webhook_endpoints").status_code == 200  # reading is not limited
