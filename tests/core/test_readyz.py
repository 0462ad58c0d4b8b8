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

from core.health import readiness, readiness_reset
from providers import registry
from providers.breaker import CircuitBreaker
from refunds.enums import PauseKind
from refunds.models import OperationsPause
from tests.support.faults import RedisServer

# The cache/broker checks run in threads of their own: the tests commit what they set up.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_probe():
    """No kept answer, no broker connection from an earlier test (they move the broker and the cache)."""
    readiness_reset()
    yield
    readiness_reset()


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


def test_pauses_in_force_are_shown_and_still_ready(client, settings):
    settings.METRICS_TOKEN = "s3cret"  # the reasons are for the token's holders (tests/core/test_readyz_disclosure.py)
    OperationsPause.objects.create(kind=PauseKind.AUTO_APPROVAL, reason="incident 42", paused_by_label="ops")
    OperationsPause.objects.create(
        kind=PauseKind.SUBMISSION, provider="stripe", reason="provider degraded", paused_by_label="ops"
    )
    lifted = OperationsPause.objects.create(kind=PauseKind.SUBMISSION, reason="old", paused_by_label="ops")
    OperationsPause.objects.filter(pk=lifted.pk).update(resumed_at=lifted.paused_at, resume_reason="over")

    response = client.get("/readyz", headers={"Authorization": "Bearer s3cret"})

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
    assert body["checks"]["cache"] == "ConnectionError"  # the class only: the address is in the log
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
    # The check runs on the request's (persistent) connection: closed first, so it connects with these
    # settings, whatever an earlier test of this worker left open.
    database = connections.settings["default"]
    port = database["PORT"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        connections["default"].close()
        database["PORT"] = str(sock.getsockname()[1])  # bound, not listening: refused
        try:
            response = client.get("/readyz")
        finally:
            database["PORT"] = port
            connections["default"].close()

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "OperationalError"
    assert body["problems"] == ["database"]
    assert body["pauses"] == {"error": "database OperationalError"}


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


def test_the_answer_is_kept_for_readiness_cache_seconds(client, settings):
    settings.READINESS_CACHE_SECONDS = 60
    assert client.get("/readyz").json()["pauses"] == []
    OperationsPause.objects.create(kind=PauseKind.AUTO_APPROVAL, reason="incident 42", paused_by_label="ops")

    assert client.get("/readyz").json()["pauses"] == []  # the kept answer: no checks run

    readiness_reset()
    assert [p["kind"] for p in client.get("/readyz").json()["pauses"]] == ["auto_approval"]


def test_a_hung_check_is_not_started_again_by_the_next_probe(client, monkeypatch, settings, silent_port):
    settings.READINESS_TIMEOUT_SECONDS = 0.3
    broker_at(monkeypatch, f"redis://127.0.0.1:{silent_port}/3")
    calls = []
    connect = current_app.connection_for_write
    monkeypatch.setattr(current_app, "connection_for_write", lambda *a, **kw: calls.append(1) or connect(*a, **kw))

    for _ in range(3):
        assert client.get("/readyz").json()["checks"]["broker"] == "timeout after 0.3s"

    assert len(calls) == 1  # one connection attempt, still hanging: the probes did not pile up more
