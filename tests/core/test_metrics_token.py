"""/metrics answers only a scrape carrying METRICS_TOKEN when one is set in production (issue 10, item 15).

The attack: anyone who could reach the web process read the refund volumes,
outcome counts and reconciliation mismatch rate from an open /metrics.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def protected(settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = TOKEN


def test_a_scrape_without_the_token_is_refused(client, protected):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"refund_" not in response.content


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}", TOKEN, f"bearer{TOKEN}", "Bearer ☃"],
)
def test_a_scrape_with_a_wrong_token_is_refused(client, protected, authorization):
    response = client.get("/metrics", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert b"refund_" not in response.content


def test_the_scrape_with_the_token_gets_the_metrics(client, protected):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"refund_outcome_total" in response.content or b"refund_auto_decision_rate_pct" in response.content


def test_the_scheme_is_case_insensitive_as_http_says(client, protected):
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code == 200


def test_without_a_token_configured_metrics_stay_open(client, settings):
    """The deploy check refund_desk.W002 warns about this in production."""
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200


def test_the_demo_scrapes_without_a_token(client, settings):
    settings.DEBUG = True
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 200
