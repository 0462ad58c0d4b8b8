"""Celery tasks of the refund domain. Task names are wire contracts (queued messages and beat name them).

The outbox's delivery and sweep tasks live in `refunds.services.outbox`, beside what
they run; importing them here registers them wherever Celery autodiscovers
`refunds.tasks`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from providers.base import ProviderError
from providers.registry import get_provider
from refunds.enums import RefundState
from refunds.models import Refund
from refunds.services.outbox import deliver_outbox, sweep_outbox
from refunds.services.outcome import refund_apply_outcome

__all__ = ["deliver_outbox", "poll_provider_pending", "sweep_outbox"]

logger = logging.getLogger("refunds.tasks")


@shared_task(name="refunds.poll_provider_pending")
def poll_provider_pending(*, limit: int = 200) -> int:
    """Ask each refund's provider about refunds left pending longer than expected (lost webhooks)."""
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
