"""Queueing a Celery task for a change that has already committed: best effort, never the caller's error.

A task queued from `transaction.on_commit` runs after the answer is decided:
the refund (or the run) is in the database and the client must get the
answer for it. If the broker cannot take the message, raising would turn that
success into a 500 — and a client retrying with a new Idempotency-Key would
create the thing twice. So the failure is logged (with the caller's message
id) and counted in `task_enqueue_failed_total{task}`, and the caller's
durable record (an outbox row, a queued run) is what gets the work done
later: a sweeper or a re-run, never this call.

How long a failing publish may hold a request is bounded by the broker
settings (`CELERY_TASK_PUBLISH_RETRY_POLICY`, the Redis socket timeouts in
`CELERY_BROKER_TRANSPORT_OPTIONS`, config/settings/base.py).
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Task
from prometheus_client import Counter

logger = logging.getLogger("core.queueing")

TASK_ENQUEUE_FAILED_TOTAL = Counter(
    "task_enqueue_failed_total",
    "Celery tasks that could not be queued after their change committed (broker unreachable); "
    "a sweeper or a re-run does the work later.",
    ["task"],
)


def enqueue_best_effort(
    task: Task,
    *,
    kwargs: dict[str, Any],
    message_id: str,
    countdown: float = 0,
    log: dict[str, Any] | None = None,
) -> bool:
    """Queue `task`; on any failure log `message_id`, count it, and return False instead of raising."""
    try:
        task.apply_async(kwargs=kwargs, **({"countdown": countdown} if countdown else {}))
    except Exception as error:  # noqa: BLE001 - the change is committed; no broker error may undo its answer
        TASK_ENQUEUE_FAILED_TOTAL.labels(task=task.name).inc()
        logger.error(
            "task not queued",
            extra={
                "message_id": message_id,
                "task": task.name,
                "error": f"{error.__class__.__name__}: {error}"[:500],
                **(log or {}),
            },
        )
        return False
    return True


def backoff_with_jitter(attempts: int, *, base: float, cap: float) -> float:
    """Seconds before try `attempts` + 1: exponential with full jitter, uniform in [base/2, min(cap, base·2^(n-1))].

    The jitter spreads the retries of many messages that failed together (an
    outage), so they do not all come back in the same second.
    """
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return random.uniform(base / 2, max(ceiling, base))
