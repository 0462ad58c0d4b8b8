"""Attack: a webhooks:write key turns our workers into an unthrottled HTTP cannon at any public host.

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
from tests.api.test_webhook_endpoints import acme, endpoint, register  # noqa: F401 - fixtures
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
