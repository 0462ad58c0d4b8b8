"""Sending deliveries to merchants' endpoints (Standard Webhooks): the delivery engine.

SKELETON: the engine is written by the delivery work package (issue 14).
"""

from __future__ import annotations

from functools import partial

from celery import shared_task
from django.db import transaction

from core.queueing import enqueue_best_effort


@shared_task(name="events.deliver_endpoint", ignore_result=True)
def deliver_endpoint(endpoint_id: int) -> None:
    raise NotImplementedError


def endpoints_kick(*, endpoint_ids: list[int]) -> None:
    """Once the transaction commits, queue a task per endpoint to send what is due to it."""
    for endpoint_id in endpoint_ids:
        transaction.on_commit(
            partial(
                enqueue_best_effort,
                deliver_endpoint,
                kwargs={"endpoint_id": endpoint_id},
                message_id="MSG.webhook.enqueue_failed",
            )
        )
