"""/readyz (issue 16): database, cache, broker and the providers' breakers, each named when it fails.

The failures are real: a port where nothing answers (tests/support/faults.py RedisServer before
`start()`), a listener that accepts and never answers (a hung dependency), breakers opened in
Redis the way delivery opens them. Only the answer's content is asserted, never its timing.
"""

from __future__ import annotations

import copy
import socket

import pytest
from celery import current_app
from django.conf import settings
from django.db import connections

from core.health import readiness
from providers import registry
from providers.breaker import CircuitBreaker
from refunds.enums import PauseKind
from refunds.models import OperationsPause
from tests.support.faults import RedisServer

# The checks run in threads of their own, with connections of their own: they see committed rows only.
pytestmark = pytest.mark.django_db(transaction=True)


def open_breaker(name: str) -> None:
    """Open `name`'s shared breaker for a minute, as failed deliveries would."""
    CircuitBreaker(name, min_calls=1, cooldown=60).record_failure()


def broker_at(monkeypatch, url: str) -> None:
    """This process's broker connections go to `url` (with the configured transport options and timeouts)."""
    app = current_app._get_current_object()
    connect = app.connection_for_write
    monkeypatch.setattr(app, "connection_for_write", lambda url_=None, **options: connect(url, **options))


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers: a hung server, not a dead one."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def second_api_provider(monkeypatch):
    """A second provider with an API (the registry knows stripe, and manual which has no breaker)."""
    monkeypatch.setitem(registry.PROVIDERS, "stripe2", registry.PROVIDERS["stripe"])


def test_ready_answers_every_check_and_no_pauses(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok", "providers": {"stripe": "closed"}},
        "pauses": [],
    }


def test_pauses_in_force_are_shown_and_still_ready(client):
    OperationsPause.objects.create(kind=PauseKind.AUTO_APPROVAL, reason="incident 42", paused_by_label="ops")
    OperationsPause.objects.create(
        kind=PauseKind.SUBMISSION, provider="stripe", reason="provider degraded", paused_by_label="ops"
    )
    lifted = OperationsPause.objects.create(kind=PauseKind.SUBMISSION, reason="old", paused_by_label="ops")
    OperationsPause.objects.filter(pk=lifted.pk).update(resumed_at=lifted.paused_at, resume_reason="over")

    response = client.get("/readyz")

    assert response.status_code == 200
    pauses = response.json()["pauses"]
    assert [(p["kind"], p["provider"], p["reason"]) for p in pauses] == [
        ("auto_approval", "*", "incident 42"),
        ("submission", "stripe", "provider degraded"),
    ]
    assert all(p["since"] for p in pauses)


def test_cache_down_is_named_and_unavailable(client, settings):
    dead = RedisServer()  # never started: nothing answers on its port
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = dead.url(0)
    settings.CACHES = caches

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"] != "ok" and "Connection" in body["checks"]["cache"]
    assert body["checks"]["database"] == body["checks"]["broker"] == "ok"
    assert body["problems"] == ["cache"]


def test_broker_down_is_named_and_unavailable(client, monkeypatch):
    broker_at(monkeypatch, RedisServer().url(0))

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["broker"] != "ok"
    assert body["checks"]["database"] == body["checks"]["cache"] == "ok"
    assert body["problems"] == ["broker"]


def test_database_down_is_named_and_unavailable(client):
    # The check runs in a thread of its own, whose connection is built from these settings;
    # this test's own connection (already open) is left alone.
    database = connections.settings["default"]
    port = database["PORT"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        database["PORT"] = str(sock.getsockname()[1])  # bound, not listening: refused
        try:
            response = client.get("/readyz")
        finally:
            database["PORT"] = port

    assert response.status_code == 503
    body = response.json()
    assert "OperationalError" in body["checks"]["database"]
    assert body["problems"] == ["database"]


def test_a_hung_broker_is_a_timeout_not_a_hung_probe(client, monkeypatch, settings, silent_port):
    settings.READINESS_TIMEOUT_SECONDS = 0.5
    # Database 3: the client sends SELECT on connecting and waits for an answer that never comes.
    broker_at(monkeypatch, f"redis://127.0.0.1:{silent_port}/3")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "timeout after 0.5s"
    assert response.json()["problems"] == ["broker"]


def test_the_only_api_provider_with_its_breaker_open_is_unavailable(client):
    open_breaker("stripe")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["providers"] == {"stripe": "open"}
    assert response.json()["problems"] == ["providers"]


def test_one_open_breaker_among_several_is_detail_and_still_ready(client, second_api_provider):
    open_breaker("stripe")

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["providers"] == {"stripe": "open", "stripe2": "closed"}


def test_every_breaker_open_among_several_is_unavailable(client, second_api_provider):
    open_breaker("stripe")
    open_breaker("stripe2")

    ready, answer = readiness()

    assert not ready
    assert answer["checks"]["providers"] == {"stripe": "open", "stripe2": "open"}


def test_readiness_timeout_is_a_setting():
    assert settings.READINESS_TIMEOUT_SECONDS > 0
