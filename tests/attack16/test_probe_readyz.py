"""Attacks on /readyz (issue 16): an anonymous caller on the public host.

/readyz has no token (unlike /metrics) and is served over plain http to anyone who can reach the
web host (docs/operations.md "Health"). These tests show what that caller learns and what each
call costs the database.
"""

from __future__ import annotations

import socket

import pytest
from django.db import connections
from django.db.backends.signals import connection_created
from django.test import Client

from core.actor import Actor
from refunds.enums import PauseKind
from refunds.services.pauses import pause

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_anonymous_caller_does_not_read_the_incident_notes_of_a_pause():
    secret_note = "INC-7781 card-testing ring via merchant acme-shoes, see #sec-incident"
    pause(PauseKind.SUBMISSION, provider="stripe", reason=secret_note, actor=Actor.system("test"))

    body = Client().get("/readyz").content.decode()

    # The probe may say *that* submission is paused; the reason is staff-only (the console banner).
    assert "acme-shoes" not in body, body


def test_an_anonymous_caller_does_not_learn_the_database_address():
    database = connections.settings["default"]
    port = database["PORT"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = str(sock.getsockname()[1])
        database["PORT"] = closed
        try:
            response = Client().get("/readyz")
        finally:
            database["PORT"] = port

    assert response.status_code == 503
    body = response.content.decode()
    # "database": "OperationalError" is enough for an orchestrator; host and port belong in the log.
    assert closed not in body, body


def test_a_probe_does_not_open_new_database_connections_each_time():
    """Every /readyz starts threads, each with a fresh PostgreSQL connection (a backend fork).

    An anonymous flood of /readyz therefore multiplies into connection setups on the database
    (and, with a slow database, into connections held past the probe's own timeout).
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
