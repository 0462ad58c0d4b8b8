"""Celery tasks of the API. Task names are wire contracts (queued messages and beat name them): never renamed."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from api.models import IdempotencyRecord


@shared_task(name="refunds.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Forget idempotency keys older than IDEMPOTENCY_KEY_TTL_HOURS (SPEC §9 keeps them at least 24 h)."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
