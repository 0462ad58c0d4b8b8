"""`manage.py outbox_relay` listens on the channel, says so in its --ready-file, and exits 0 on SIGTERM."""

from __future__ import annotations

import pytest
from django.db import connection

from core.handoff import CHANNEL
from tests.support.live import OutboxRelayProcess, app_env, new_namespace, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def listening_pids() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
            [f"LISTEN {CHANNEL}"],
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_command_listens_and_stops_cleanly_on_sigterm(tmp_path):
    before = set(listening_pids())
    env = app_env(namespace=new_namespace("relay"), OUTBOX_HANDOFF="relay")
    relay = OutboxRelayProcess(env=env, directory=tmp_path)
    relay.start()  # returns once its --ready-file is written: listening, first pass made
    try:
        assert set(listening_pids()) - before
    finally:
        returncode = relay.stop()

    assert returncode == 0, (tmp_path / "relay.log").read_text()
    wait_for(lambda: not set(listening_pids()) - before, timeout=10, message="its LISTEN session to end")
