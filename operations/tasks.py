"""Celery tasks of the operations app (issue 16)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from core.partitions import partitions_ensure
from operations.synthetic import SyntheticBusy, SyntheticRefused, synthetic_refund_run

logger = logging.getLogger("operations")


@shared_task(name="operations.synthetic_refund")
def synthetic_refund() -> bool | None:
    """Beat's synthetic refund (every SYNTHETIC_INTERVAL_SECONDS with SYNTHETIC_ENABLED=1), on the default queue.

    Skipped while another run is still going (it holds the run's advisory lock: two tasks started
    together, a redelivered task, an operator's command), so two synthetic refunds never race. It
    holds a worker slot while it waits on the delivery, which another slot (or the provider queue's
    worker) must run. Returns the run's outcome (None when skipped).
    """
    try:
        run = synthetic_refund_run()
    except SyntheticBusy:
        logger.info("synthetic refund skipped: a run is in progress", extra={"message_id": "MSG.ops.synthetic_busy"})
        return None
    except SyntheticRefused as refusal:
        logger.error(
            "synthetic refund refused", extra={"message_id": "MSG.ops.synthetic_refused", "reason": str(refusal)}
        )
        return False
    if not run.ok:
        logger.warning(
            "synthetic refund failed",
            extra={"message_id": "MSG.ops.synthetic_failed", "error": run.error, "refund": run.refund_public_id},
        )
    return run.ok


@shared_task(name="operations.ensure_partitions")
def ensure_partitions() -> int:
    """Create the monthly partitions due within PARTITION_MONTHS_AHEAD months (beat, hourly); return how many.

    Idempotent and cheap when there is nothing to do (the catalog is read). A month blocked by rows in a
    default partition is logged as an error (MSG.db.partition_blocked) and shown by the gauges
    `db_partition_months_ahead` and `db_partition_default_rows`.
    """
    reports = partitions_ensure(months_ahead=settings.PARTITION_MONTHS_AHEAD)
    return sum(len(report.created) for report in reports)
