"""Celery tasks: each fetches ids, calls one service, and retries only transient trouble."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.db.models import Q
from django.utils import timezone

from refunds.enums import OutboxStatus, RefundState

logger = logging.getLogger("refunds.tasks")


@shared_task(
    name="refunds.deliver_outbox",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def deliver_outbox(*, message_id: int) -> str:
    from refunds.services.execute import outbox_deliver

    return outbox_deliver(message_id=message_id)


@shared_task(name="refunds.sweep_outbox")
def sweep_outbox(*, limit: int = 500) -> int:
    """Re-queue due messages whose task was lost (crash after commit, broker loss, dead worker)."""
    from refunds.models import OutboxMessage

    now = timezone.now()
    due = (
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING, available_at__lte=now)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .order_by("available_at")
        .values_list("pk", flat=True)[:limit]
    )
    count = 0
    for message_id in due:
        deliver_outbox.apply_async(kwargs={"message_id": message_id})
        count += 1
    if count:
        logger.info("outbox sweep", extra={"message_id": "MSG.outbox.swept", "queued": count})
    return count


@shared_task(name="refunds.poll_provider_pending")
def poll_provider_pending(*, limit: int = 200) -> int:
    """Ask the provider about refunds left pending longer than expected (lost webhooks)."""
    from providers.base import ProviderError
    from providers.registry import get_provider
    from refunds.models import Refund
    from refunds.services.outcome import refund_apply_outcome

    cutoff = timezone.now() - timedelta(seconds=settings.PROVIDER_POLL_PENDING_AFTER_SECONDS)
    pending = Refund.objects.filter(
        state=RefundState.PROVIDER_PENDING, updated_at__lt=cutoff, provider_refund_id__isnull=False
    ).values_list("pk", "provider_refund_id", "payment__provider")[:limit]
    applied = 0
    for refund_id, provider_refund_id, provider_name in pending:
        provider = get_provider(provider_name)
        if provider.settles_by_hand:
            continue  # finance settles these; there is nobody to ask
        try:
            outcome = provider.fetch_refund(provider_refund_id=provider_refund_id)
        except ProviderError as error:
            logger.warning("poll failed", extra={"message_id": "MSG.refund.poll_failed", "error": str(error)})
            continue
        applied += refund_apply_outcome(refund_id=refund_id, outcome=outcome, source="poll")[1]
    return applied
