"""The refund card answers "did the merchant get told?" (issue 14): each merchant event of the refund
and its delivery per endpoint — delivered, retrying (attempt n, next at …), failed — read-only, for any
agent, in a bounded number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.enums import DeliveryStatus
from events.models import Event, WebhookDelivery
from refunds.services.merchants import merchant_default
from tests.console.webhook_fixtures import a_refund_with_events, an_endpoint, delivery_of, record_attempt

pytestmark = pytest.mark.django_db

SECOND_URL = "https://93.184.215.15/erp"


def panel(html: str) -> str:
    start = html.index('id="merchant-events"')
    return html[start : html.index("</section>", start)]


def test_an_agent_sees_each_event_and_its_delivery_state_per_endpoint(agent_client):
    acme = merchant_default()
    erp, crm = an_endpoint(acme), an_endpoint(acme, url=SECOND_URL)
    refund = a_refund_with_events()
    created, approved = Event.objects.filter(refund=refund).order_by("sequence")[:2]
    record_attempt(delivery_of(created, erp), status_code=200)
    record_attempt(delivery_of(created, crm), status_code=503)
    WebhookDelivery.objects.filter(pk=delivery_of(approved, crm).pk).update(
        status=DeliveryStatus.FAILED, attempts=17, failed_at=timezone.now(), last_error="HTTP 410"
    )

    html = panel(agent_client.get(f"/console/refunds/{refund.public_id}/").content.decode())

    assert created.type in html and approved.type in html and created.public_id in html
    assert ">delivered</span>" in html
    assert ">retrying</span>" in html and "attempt 1 failed (HTTP 503); next at" in html
    assert ">failed</span>" in html and "after 17 attempts: HTTP 410" in html
    assert ">queued</span>" in html and "not tried yet" in html  # approved → erp
    # Read-only for an agent: no way into the endpoint pages, no buttons.
    assert "/console/webhooks/" not in html and "<form" not in html and "<button" not in html


def test_an_event_no_endpoint_was_subscribed_to_says_so(agent_client):
    refund = a_refund_with_events()
    html = panel(agent_client.get(f"/console/refunds/{refund.public_id}/").content.decode())
    assert "No webhook endpoint was subscribed when it happened" in html


def test_a_delivery_to_an_endpoint_disabled_since_says_it_waits(agent_client):
    acme = merchant_default()
    endpoint = an_endpoint(acme)
    refund = a_refund_with_events()
    endpoint.status, endpoint.disabled_reason = "disabled", "failing"
    endpoint.save()
    html = panel(agent_client.get(f"/console/refunds/{refund.public_id}/").content.decode())
    assert ">waiting</span>" in html and "the endpoint is disabled" in html


def test_staff_who_manage_webhooks_get_a_link_to_the_endpoint(login):
    endpoint = an_endpoint(merchant_default())
    refund = a_refund_with_events()
    html = panel(login("ops", "admin").get(f"/console/refunds/{refund.public_id}/").content.decode())
    assert f'href="/console/webhooks/endpoints/{endpoint.public_id}/"' in html


def test_the_panel_costs_two_queries_however_many_events_and_endpoints(agent_client):
    acme = merchant_default()
    an_endpoint(acme)
    refund = a_refund_with_events()
    path = f"/console/refunds/{refund.public_id}/"
    agent_client.get(path)
    with CaptureQueriesContext(connection) as one:
        agent_client.get(path)
    for n in range(4):
        an_endpoint(acme, url=f"https://93.184.215.{20 + n}/hooks")
    event = Event.objects.filter(refund=refund).first()
    for delivery in WebhookDelivery.objects.filter(event=event):
        record_attempt(delivery, status_code=500, at=timezone.now() - timedelta(minutes=1))
    from events.services.redeliver import event_redeliver
    from tests.console.webhook_fixtures import SETUP

    event_redeliver(event=event, actor=SETUP)
    with CaptureQueriesContext(connection) as many:
        agent_client.get(path)
    assert len(many) == len(one)
    events_queries = [q for q in many.captured_queries if "events_" in q["sql"]]
    assert len(events_queries) == 2
