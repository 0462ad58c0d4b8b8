"""A Celery worker outlives a broker restart: it reconnects and consumes again.

Celery 5.7.0's worker exits instead ("Unrecoverable error: AttributeError")
when it holds an unacknowledged task as the broker goes, which is why
requirements.txt pins the release before it.
"""

from __future__ import annotations

import redis

from config.celery import app
from refunds.services.outbox import sweep_outbox
from tests.support.faults import RedisServer
from tests.support.live import CeleryWorker, app_env, delete_queues, new_namespace, queue_names, wait_for


def test_worker_reconnects_after_the_broker_restarts_and_consumes_again(transactional_db, tmp_path):
    broker = RedisServer(tmp_path / "broker", name="broker").start()
    namespace = new_namespace("broker-restart")
    worker = CeleryWorker(
        env=app_env(namespace=namespace, CELERY_BROKER_URL=broker.url(0)),
        schedule_dir=tmp_path,
        concurrency=1,
        beat=False,
    )
    client = redis.Redis.from_url(broker.url(0))
    try:
        worker.start()
        _wait_consumed(client, broker, namespace)  # connected and consuming before the fault
        # A task the worker holds for later (a breaker deferral, a retry countdown): unacknowledged when the
        # broker goes, which is what made kombu's close fail.
        with app.connection_for_write(broker.url(0)) as connection:
            sweep_outbox.apply_async(connection=connection, queue=namespace, routing_key=namespace, countdown=600)
        wait_for(lambda: client.hlen("unacked") == 1, timeout=30, message="the worker to hold the countdown task")

        broker.kill()
        broker.start()  # empty, as a Redis without persistence comes back

        _wait_consumed(client, broker, namespace)
        assert worker.process is not None and worker.process.poll() is None  # never exited
    finally:
        worker.stop()
        client.close()
        broker.stop()
        delete_queues(namespace)


def _wait_consumed(client: redis.Redis, broker: RedisServer, namespace: str) -> None:
    """Queue a harmless task (a sweep of the empty outbox) until the worker has taken it off the queue."""
    queue = queue_names(namespace)[0]

    def consumed() -> bool:
        if client.llen(queue) == 0:
            with app.connection_for_write(broker.url(0)) as connection:
                sweep_outbox.apply_async(connection=connection, queue=queue, routing_key=queue)
        return _drained(client, queue)

    wait_for(consumed, timeout=60, interval=0.5, message="the worker to consume from the broker")


def _drained(client: redis.Redis, queue: str) -> bool:
    try:
        wait_for(lambda: client.llen(queue) == 0, timeout=5, interval=0.1, message="the task to be taken")
    except AssertionError:
        return False
    return True
