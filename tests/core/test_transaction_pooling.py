"""Through PgBouncer in transaction pooling mode a session-level lock locks nothing; the code keeps none there.

The hazard first, on a real PgBouncer (tests/support/pgbouncer.py): a session
advisory lock taken through the pooler stays on whichever server session ran
the statement, so the next client handed that session "takes" it too, while
a transaction-scoped lock excludes as it should. Then the one session lock
the code holds (the synthetic run's, operations.synthetic) is taken on the
`direct` alias (DATABASE_DIRECT_URL), never on `default`.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connections

from core.databases import session_alias
from operations.synthetic import _RUN_LOCK_KEY, SyntheticBusy, synthetic_run_lock
from tests.support.databases import database_alias
from tests.support.pgbouncer import PgBouncer

pytestmark = pytest.mark.slow

KEY = 4_217_017


@pytest.fixture
def small_pool(django_db_setup):
    """A PgBouncer with two server sessions in front of the test database."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    bouncer = PgBouncer(upstream_host=db["HOST"] or "127.0.0.1", upstream_port=int(db["PORT"] or 5432), pool_size=2)
    bouncer.start()
    yield bouncer, db["NAME"]
    bouncer.stop()


def _direct_conninfo(db: dict) -> str:
    host, port, user = db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["USER"] or "postgres"
    return f"host={host} port={port} user={user} dbname={db['NAME']}"


def test_a_session_advisory_lock_through_the_pooler_is_shared_by_whoever_gets_that_server_session(small_pool):
    from django.conf import settings

    bouncer, name = small_pool
    first = psycopg.connect(bouncer.conninfo(name), autocommit=True)
    second = psycopg.connect(bouncer.conninfo(name), autocommit=True)
    outside = psycopg.connect(_direct_conninfo(settings.DATABASES["default"]), autocommit=True)
    try:
        assert first.execute("SELECT pg_try_advisory_lock(%s)", [KEY]).fetchone()[0] is True
        # Another client, handed the same (idle) server session, "takes" the lock too: it excludes nobody.
        assert second.execute("SELECT pg_try_advisory_lock(%s)", [KEY]).fetchone()[0] is True
        # And it is held for the pooled session whoever asks: a process outside the pooler is locked out.
        assert outside.execute("SELECT pg_try_advisory_lock(%s)", [KEY]).fetchone()[0] is False
    finally:
        # Reentrant: taken twice on the one server session, released twice there.
        first.execute("SELECT pg_advisory_unlock_all()")
        for conn in (first, second, outside):
            conn.close()


def test_a_transaction_scoped_advisory_lock_through_the_pooler_excludes(small_pool):
    bouncer, name = small_pool
    holder = psycopg.connect(bouncer.conninfo(name))
    other = psycopg.connect(bouncer.conninfo(name))
    try:
        # A transaction keeps its server session to the end: the lock is the transaction's, on that session.
        assert holder.execute("SELECT pg_try_advisory_xact_lock(%s)", [KEY]).fetchone()[0] is True
        assert other.execute("SELECT pg_try_advisory_xact_lock(%s)", [KEY]).fetchone()[0] is False
        other.rollback()
        holder.commit()  # and it ends with the transaction, whichever session runs the next one
        assert other.execute("SELECT pg_try_advisory_xact_lock(%s)", [KEY]).fetchone()[0] is True
        other.commit()
    finally:
        holder.close()
        other.close()


def _advisory_holders() -> set[int]:
    """Backend pids holding the synthetic run's advisory lock in this database (asked on default, outside the lock).

    Advisory locks are per database, and pytest-xdist's other workers run the synthetic run's own
    tests against their databases on the same server at the same time: pg_locks shows theirs too.
    """
    classid, objid = (_RUN_LOCK_KEY >> 32) & 0xFFFFFFFF, _RUN_LOCK_KEY & 0xFFFFFFFF
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [classid, objid],
        )
        return {row[0] for row in cursor.fetchall()}


def _backend_pid(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_synthetic_run_lock_is_held_on_the_direct_line_and_excludes_a_second_run(transactional_db):
    with database_alias("direct"):
        assert session_alias() == "direct"
        busy: list[BaseException] = []

        def second_run() -> None:
            try:
                with synthetic_run_lock():
                    pass
            except SyntheticBusy as refusal:
                busy.append(refusal)
            finally:
                for alias in ("default", "direct"):
                    connections[alias].close()

        with synthetic_run_lock():
            assert _advisory_holders() == {_backend_pid("direct")}
            assert _backend_pid("default") not in _advisory_holders()
            thread = threading.Thread(target=second_run)
            thread.start()
            thread.join(timeout=30)
        assert len(busy) == 1
        assert _advisory_holders() == set()  # released on the same session that took it


def test_without_a_direct_line_the_session_lock_stays_on_default(transactional_db):
    assert session_alias() == "default"
    with synthetic_run_lock():
        assert _advisory_holders() == {_backend_pid("default")}
