"""Celery tasks of the API. Task names are wire contracts (queued messages and beat name them): never renamed."""

from __future__ import annotations

from celery import shared_task

from api.idempotency import idempotency_records_purge


@shared_task(name="refunds.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Forget idempotency keys older than IDEMPOTENCY_KEY_TTL_HOURS (SPEC §9 keeps them at least 24 h), in batches."""
    return idempotency_records_purge()
