"""Webhook-inbox events for refunds we do not know, as reconciliation items.

The inbox keeps verified events whose refund id matched none of ours (status
`unknown_refund`). If the provider side of the run lists that refund, it is
already a missing_in_ledger item and only gets a note; otherwise it becomes an
`unknown_refund_event` item, so a refund made outside our system (say, in the
provider's dashboard) is seen even when the report missed it.
"""

from __future__ import annotations

from django.db.models import Count, Max

from providers.base import Provider, WebhookRejected
from reconciliation.enums import ItemKind
from reconciliation.models import ReconciliationItem, ReconciliationRun
from refunds.enums import WebhookStatus
from refunds.models import Refund, WebhookEvent


def unknown_refund_events_add(*, run: ReconciliationRun, provider: Provider) -> int:
    """Add or annotate items for the day's unknown-refund events of the run's provider; returns items added.

    `provider` reads the stored events (`Provider.parse_event`). Side effects:
    notes on the run's missing_in_ledger items the events name, and one
    `unknown_refund_event` item per other unknown refund (from its latest event).
    """
    events = (
        WebhookEvent.objects.filter(
            provider=run.provider,
            status=WebhookStatus.UNKNOWN_REFUND,
            received_at__gte=run.window_start,
            received_at__lt=run.window_end,
        )
        .exclude(provider_refund_id="")
        .values("provider_refund_id")
        .annotate(events=Count("id"), last_id=Max("id"))
    )
    by_id = {row["provider_refund_id"]: row for row in events}
    if not by_id:
        return 0
    known = set(Refund.objects.filter(provider_refund_id__in=by_id).values_list("provider_refund_id", flat=True))
    listed = set(
        ReconciliationItem.objects.filter(run=run, provider_refund_id__in=by_id).values_list(
            "provider_refund_id", flat=True
        )
    )
    for provider_refund_id in listed:
        ReconciliationItem.objects.filter(
            run=run, provider_refund_id=provider_refund_id, kind=ItemKind.MISSING_IN_LEDGER
        ).update(note=f"{by_id[provider_refund_id]['events']} webhook event(s) for this unknown refund in the inbox")
    latest = WebhookEvent.objects.in_bulk(
        [row["last_id"] for pid, row in by_id.items() if pid not in known and pid not in listed]
    )
    items = []
    for event in latest.values():
        try:
            parsed = provider.parse_event(event.payload)
        except WebhookRejected:  # stored, so it was an event when it came; keep what the inbox row says
            parsed = None
        items.append(
            ReconciliationItem(
                run=run,
                kind=ItemKind.UNKNOWN_REFUND_EVENT,
                provider_refund_id=event.provider_refund_id,
                provider_amount_minor=parsed.amount_minor if parsed else None,
                provider_currency=((parsed and parsed.currency) or "")[:3],
                provider_status=(parsed.outcome.status if parsed and parsed.outcome else "")[:20],
                provider_created_at=event.provider_created_at,
                note=f"webhook {event.event_type} {event.event_id}"[:200],
            )
        )
    ReconciliationItem.objects.bulk_create(items)
    return len(items)
