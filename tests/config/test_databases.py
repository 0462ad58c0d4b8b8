"""DATABASES from the environment (config/settings/databases.py): pooler, direct line, replica, and the refusals.

And the Celery broker options per broker (config/settings/base.py): RabbitMQ gets its own, not Redis's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.databases import databases

ROOT = Path(__file__).resolve().parents[2]
PRIMARY = "postgres://app@db.internal:5432/refunds"
BOUNCER = "postgres://app@pgbouncer.internal:6432/refunds"
REPLICA = "postgres://app@replica.internal:5432/refunds"


def test_no_url_is_the_demo_sqlite_file_alone(tmp_path):
    result = databases({}, var_dir=tmp_path)

    assert list(result) == ["default"]
    assert result["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert result["default"]["NAME"] == str(tmp_path / "refund_desk.sqlite3")


def test_postgres_without_a_pooler_keeps_server_side_cursors(tmp_path):
    result = databases({"DATABASE_URL": PRIMARY, "DB_CONN_MAX_AGE": "30"}, var_dir=tmp_path)

    assert list(result) == ["default"]
    assert result["default"]["CONN_MAX_AGE"] == 30
    assert not result["default"].get("DISABLE_SERVER_SIDE_CURSORS")


def test_pgbouncer_turns_off_server_side_cursors_and_prepared_statements(tmp_path):
    env = {"DATABASE_URL": BOUNCER, "DATABASE_POOLER": "pgbouncer", "DATABASE_DIRECT_URL": PRIMARY}

    result = databases(env, var_dir=tmp_path)

    assert result["default"]["HOST"] == "pgbouncer.internal"
    assert result["default"]["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert "prepare_threshold" in result["default"]["OPTIONS"]
    assert result["default"]["OPTIONS"]["prepare_threshold"] is None
    # The direct line is the primary itself, with sessions of its own: nothing turned off.
    assert result["direct"]["HOST"] == "db.internal"
    assert not result["direct"].get("DISABLE_SERVER_SIDE_CURSORS")
    assert result["direct"]["TEST"] == {"MIRROR": "default"}


def test_pgbouncer_without_a_direct_line_is_refused_at_start(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_DIRECT_URL"):
        databases({"DATABASE_URL": BOUNCER, "DATABASE_POOLER": "pgbouncer"}, var_dir=tmp_path)


def test_pgbouncer_with_server_side_binding_is_refused(tmp_path):
    env = {
        "DATABASE_URL": BOUNCER + "?server_side_binding=true",
        "DATABASE_POOLER": "pgbouncer",
        "DATABASE_DIRECT_URL": PRIMARY,
    }
    with pytest.raises(ImproperlyConfigured, match="server_side_binding"):
        databases(env, var_dir=tmp_path)


def test_an_unknown_pooler_is_refused(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOLER"):
        databases({"DATABASE_URL": PRIMARY, "DATABASE_POOLER": "pgpool"}, var_dir=tmp_path)


def test_a_replica_is_an_alias_mirroring_default_in_tests(tmp_path):
    result = databases({"DATABASE_URL": PRIMARY, "DATABASE_REPLICA_URL": REPLICA}, var_dir=tmp_path)

    assert set(result) == {"default", "replica"}
    assert result["replica"]["HOST"] == "replica.internal"
    assert result["replica"]["TEST"] == {"MIRROR": "default"}
    assert not result["replica"].get("DISABLE_SERVER_SIDE_CURSORS")


def test_a_replica_behind_pgbouncer_gets_the_pooler_settings_too(tmp_path):
    env = {
        "DATABASE_URL": BOUNCER,
        "DATABASE_POOLER": "pgbouncer",
        "DATABASE_DIRECT_URL": PRIMARY,
        "DATABASE_REPLICA_URL": REPLICA,
    }

    result = databases(env, var_dir=tmp_path)

    assert result["replica"]["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert result["replica"]["OPTIONS"]["prepare_threshold"] is None


@pytest.mark.parametrize("variable", ["DATABASE_POOLER", "DATABASE_DIRECT_URL", "DATABASE_REPLICA_URL"])
def test_sqlite_with_a_pooler_direct_line_or_replica_is_refused(tmp_path, variable):
    value = "pgbouncer" if variable == "DATABASE_POOLER" else PRIMARY
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL"):
        databases({variable: value}, var_dir=tmp_path)


def _celery_settings(broker_url: str) -> dict:
    """The broker options a process started with CELERY_BROKER_URL=`broker_url` gets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DATABASE_"))}
    env.update(
        CELERY_BROKER_URL=broker_url,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        PYTHONPATH=str(ROOT),
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/unused",
        TEST_NAMESPACE="broker-options",
    )
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps({'options': settings.CELERY_BROKER_TRANSPORT_OPTIONS, "
        "'acks_late': settings.CELERY_TASK_ACKS_LATE, 'queues': [q.name for q in settings.CELERY_TASK_QUEUES]}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_rabbitmq_broker_gets_publisher_confirms_and_bounded_sockets_not_a_visibility_timeout():
    rabbit = _celery_settings("amqp://guest:guest@127.0.0.1:5672/refunds")
    redis_ = _celery_settings("redis://127.0.0.1:6379/9")

    assert rabbit["options"]["confirm_publish"] is True
    assert {"connect_timeout", "read_timeout", "write_timeout"} <= set(rabbit["options"])
    # Redis's redelivery-after-a-timeout has no meaning on RabbitMQ (it redelivers when a consumer goes).
    assert "visibility_timeout" not in rabbit["options"]
    assert "visibility_timeout" in redis_["options"]
    # The rest is the same on both: late acks, the namespace's five queues.
    assert rabbit["acks_late"] is redis_["acks_late"] is True
    assert rabbit["queues"] == redis_["queues"]
