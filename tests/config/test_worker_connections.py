"""A Celery worker keeps its database connection from task to task, and checks it before using it again.

Celery's Django fixup used to close every connection before and after each
task: a new PostgreSQL session (a forked backend, an authentication) per task,
about 2 per refund under load (issue 17). CELERY_DB_REUSE_MAX turns that
off; config/celery.py applies Django's own rules around each task instead
(DB_CONN_MAX_AGE, a broken connection dropped) and a health check, so a
connection the server dropped between two tasks costs a reconnect, not a
failed task.
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, connection, connections, transaction

from config.celery import _check_reused_connections, _close_old_connections
from refunds.enums import RefundState
from refunds.models import OutboxMessage, Refund
from refunds.services.outbox import deliver_outbox
from tests.refunds.factories import captured_order, make_refund
from tests.support.live import (
    CeleryWorker,
    delete_cache_keys,
    delete_queues,
    new_namespace,
    own_simulator,
    stack_env,
    wait_for,
)
from tests.support.live import (
    test_database_url as database_url,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _worker_sessions() -> set[int]:
    """Backend pids of this test database's client sessions other than this process's own."""
    with psycopg.connect(database_url(), autocommit=True) as observer:
        rows = observer.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND pid <> %s",
            [connection.connection.info.backend_pid],
        ).fetchall()
    return {pid for (pid,) in rows}


def _deliver_through(namespace: str, count: int) -> list[Refund]:
    """`count` approved refunds, their delivery tasks sent to the worker's own provider queue, all completed."""
    refunds = [make_refund(order=captured_order(amount_minor=10000), amount_minor=500) for _ in range(count)]
    messages = OutboxMessage.objects.filter(refund__in=refunds)
    for pk in messages.values_list("pk", flat=True):
        deliver_outbox.apply_async(kwargs={"message_id": pk}, queue=f"{namespace}.provider")

    def all_completed() -> bool:
        return Refund.objects.filter(pk__in=[r.pk for r in refunds], state=RefundState.COMPLETED).count() == count

    wait_for(all_completed, timeout=60, message=f"{count} refunds completed by the worker")
    return refunds


def test_a_worker_process_keeps_one_session_across_tasks(tmp_path):
    connection.ensure_connection()
    namespace = new_namespace("conns")
    with own_simulator(tmp_path) as simulator:
        env = stack_env(namespace=namespace, PROVIDER_API_BASE=simulator.url)
        worker = CeleryWorker(env=env, schedule_dir=tmp_path, concurrency=1, beat=False)
        worker.start()
        try:
            _deliver_through(namespace, 1)
            after_first = _worker_sessions()
            assert after_first, "the worker closed its connection after its task"

            _deliver_through(namespace, 4)
            # The session the first task opened is still the one in use: no new session per task.
            assert after_first & _worker_sessions(), "each task opened a session of its own"
        finally:
            worker.stop()
            delete_queues(namespace)
            delete_cache_keys(namespace)


@pytest.fixture
def health_checked(monkeypatch):
    """This process's connections configured as a worker's are (config.celery._check_reused_connections)."""
    for alias in connections:
        monkeypatch.setitem(connections.settings[alias], "CONN_HEALTH_CHECKS", False)
    _check_reused_connections()
    connections["default"].close()  # health_check_enabled is read when a connection opens
    yield
    connections["default"].close()


def _terminate(pid: int) -> None:
    with psycopg.connect(database_url(), autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])
        killer.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])


def _wait_gone(pid: int) -> None:
    def gone() -> bool:
        with psycopg.connect(database_url(), autocommit=True) as observer:
            return observer.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone() is None

    wait_for(gone, timeout=10, interval=0.05, message=f"backend {pid} to exit")


def test_a_connection_dropped_between_two_tasks_is_replaced_before_the_next_task_uses_it(health_checked):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (first_pid,) = cursor.fetchone()
    _close_old_connections()  # the first task ends: its connection is kept
    _terminate(first_pid)  # PostgreSQL restarted, or the session was killed, between the two tasks
    _wait_gone(first_pid)

    _close_old_connections()  # the next task starts
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (second_pid,) = cursor.fetchone()
    assert second_pid != first_pid


def test_without_the_health_check_the_next_task_fails_on_the_dropped_connection(monkeypatch):
    """The hazard the check removes, shown on the same sequence with Django's default (no check)."""
    monkeypatch.setitem(connections.settings["default"], "CONN_HEALTH_CHECKS", False)
    connections["default"].close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    _close_old_connections()
    _terminate(pid)
    _wait_gone(pid)

    _close_old_connections()
    with pytest.raises(OperationalError), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    _close_old_connections()  # the failed task ends: its broken connection is dropped
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_an_eager_task_leaves_its_callers_transaction_alone():
    """An eager task runs inside its caller's transaction: closing that connection would end it."""

    class EagerTask:
        class request:  # Celery's Task.request, as an eager call has it
            is_eager = True

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        _close_old_connections(sender=EagerTask())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] == pid
