"""/readyz and an anonymous caller on the public host (issue 16, attack tests first).

/readyz has no token (unlike /metrics) and is served over plain http to anyone who can reach the
web host (docs/operations.md "Readiness"): that caller learns that something is paused but not
the incident note, a failed check's class but not the database's address, and a flood of probes
costs no new database connection each.
"""

from __future__ import annotations

import socket

import pytest
from django.db import connections
from django.db.backends.signals import connection_created
from django.test import Client

from core.actor import Actor
from core.health import readiness_reset
from refunds.enums import PauseKind
from refunds.services.pauses import pause

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_probe():
    readiness_reset()
    yield
    readiness_reset()


def test_an_anonymous_caller_does_not_read_the_incident_notes_of_a_pause():
    secret_note = "INC-7781 card-testing ring via merchant acme-shoes, see #sec-incident"
    pause(PauseKind.SUBMISSION, provider="stripe", reason=secret_note, actor=Actor.system("test"))

    body = Client().get("/readyz").content.decode()

    # The probe may say *that* submission is paused; the reason is staff-only (the console banner).
    assert "acme-shoes" not in body, body
    (shown,) = Client().get("/readyz").json()["pauses"]
    assert shown["kind"] == "submission" and shown["provider"] == "stripe" and shown["since"]


def test_the_metrics_token_reads_the_reason(settings):
    settings.METRICS_TOKEN = "s3cret"
    pause(PauseKind.SUBMISSION, provider="stripe", reason="INC-7781 see #sec-incident", actor=Actor.system("test"))

    anonymous = Client().get("/readyz").json()["pauses"]
    wrong = Client().get("/readyz", headers={"Authorization": "Bearer guess"}).json()["pauses"]
    staff = Client().get("/readyz", headers={"Authorization": "Bearer s3cret"}).json()["pauses"]

    assert "reason" not in anonymous[0] and "reason" not in wrong[0]
    assert staff[0]["reason"] == "INC-7781 see #sec-incident"


def test_an_anonymous_caller_does_not_learn_the_database_address():
    database = connections.settings["default"]
    port = database["PORT"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = str(sock.getsockname()[1])
        # The probe runs on the thread's persistent connection: one left open by an earlier test of this
        # worker would still reach the real database, whatever PORT now says. Closed, it must reconnect.
        connections["default"].close()
        database["PORT"] = closed
        try:
            response = Client().get("/readyz")
        finally:
            database["PORT"] = port
            connections["default"].close()  # a connection attempt to the closed port must not linger

    assert response.status_code == 503
    body = response.content.decode()
    # "database": "OperationalError" is enough for an orchestrator; host and port belong in the log.
    assert closed not in body, body
    assert response.json()["checks"]["database"] == "OperationalError"


def test_a_probe_does_not_open_new_database_connections_each_time():
    """The database check runs on the request's own (persistent) connection, not one per probe.

    Otherwise an anonymous flood of /readyz multiplies into connection setups on the database
    (a backend fork each, and with a slow database, connections held past the probe's timeout).
    """
    client = Client()
    client.get("/readyz")  # warm up whatever is reused
    opened = []

    def count(sender, connection, **kwargs):
        opened.append(connection.alias)

    connection_created.connect(count)
    try:
        for _ in range(10):
            assert client.get("/readyz").status_code == 200
    finally:
        connection_created.disconnect(count)

    assert len(opened) < 10, f"{len(opened)} new database connections for 10 probes"
