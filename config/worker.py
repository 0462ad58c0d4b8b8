"""The Celery worker's consumer (`CELERY_WORKER_CONSUMER`), with one fix: it survives losing the broker.

Celery 5.7.0 closes the broken broker connection after collecting it
(`Consumer.on_connection_error_after_connected`). With kombu's Redis
transport that close restores unacknowledged messages through a client the
collect already let go, raises `AttributeError`, and the worker exits with
"Unrecoverable error" on every Redis restart: deliveries and customer emails
then wait for someone to start it again. When the close fails the consumer
has already let go of the connection, so this consumer logs that one error
and lets Celery reconnect, as it does for every other connection loss.
`tests/e2e/chaos/test_worker_broker_restart.py` restarts a real broker under a
worker; remove this class once Celery's own close survives it.
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer as CeleryConsumer

logger = logging.getLogger("config.worker")


class Consumer(CeleryConsumer):
    def on_connection_error_after_connected(self, exc: Exception) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError:
            logger.warning(
                "broker connection lost; closing it failed inside kombu, reconnecting anyway",
                extra={"message_id": "MSG.worker.broker_reconnect"},
                exc_info=True,
            )
