"""Delivery metrics: attempts by outcome, latency, the backlog and disabled endpoints on the scrape."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from core.metrics import scrape
from events.delivery import deliver_endpoint
from tests.events.webhook_setup import endpoint_at, refund_with_events

pytestmark = pytest.mark.django_db


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_attempts_and_the_backlog_are_measured(merchant_receiver, settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    merchant_receiver.set_mode("/a", status=500)
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url("/a"))
    refund_with_events()
    failed_before = _value("webhook_attempts_total", outcome="http_error")
    timed_before = _value("webhook_attempt_seconds_count")

    deliver_endpoint(endpoint.pk)

    assert _value("webhook_attempts_total", outcome="http_error") > failed_before
    assert _value("webhook_attempt_seconds_count") > timed_before
    text = scrape().decode()
    pending_line = next(line for line in text.splitlines() if line.startswith("webhook_deliveries_pending "))
    assert float(pending_line.split()[1]) >= 1
    assert "webhook_delivery_oldest_pending_seconds " in text
    assert 'webhook_endpoints_disabled{reason="failing"} 0.0' in text
