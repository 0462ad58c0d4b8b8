"""GET /metrics: Prometheus text with the counters and the gauges computed from the database."""

import re

import pytest

from audit.services import audit_seal_pending
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def scrape(client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for line in response.content.decode().splitlines():
        match = re.fullmatch(r"([a-z_]+(?:\{[^}]*\})?) (\S+)", line)
        if match:
            samples[match.group(1)] = float(match.group(2))
    return samples


def test_the_auto_decision_rate_counts_the_last_day(client):
    order = captured_order(amount_minor=100000)
    make_refund(order=order, amount_minor=1000)  # auto-approved
    make_refund(order=order, amount_minor=60000)  # over the ceiling: reviewed
    assert scrape(client)["refund_auto_decision_rate_pct"] == 50.0


def test_the_age_of_the_oldest_unsealed_audit_event_is_exposed(client):
    make_refund(order=captured_order(), amount_minor=1000)
    assert scrape(client)["audit_unsealed_oldest_seconds"] > 0.0  # just written, not yet sealed
    audit_seal_pending()
    assert scrape(client)["audit_unsealed_oldest_seconds"] == 0.0


def test_create_latency_and_outcomes_are_exported(client):
    samples = scrape(client)
    assert any(name.startswith("refund_create_latency_ms_bucket") for name in samples)
    assert "webhook_replay_dedup_total" in samples
