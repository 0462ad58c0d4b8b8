"""The webhook inbox for finance: held events and events for refunds we do not know (SPEC §6, §7).

Read-only. A held event named one of our refunds but did not add up (another
provider refund id, a refund not out at the provider, another amount or
currency); nothing of the refund changed. Finance checks it against the
provider dashboard and the refund's card; docs/runbooks.md says what to do.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.finance.common import finance_required, money
from console.finance.forms import WebhookFilterForm
from core.databases import read_alias
from core.money import is_known_currency
from providers.base import WebhookRejected
from providers.registry import UnknownProvider, get_provider
from refunds.enums import WebhookStatus
from refunds.models import WebhookEvent
from refunds.selectors import WEBHOOK_ATTENTION_STATUSES, webhook_events

PAGE_SIZE = 50


@require_GET
@finance_required
def webhook_inbox(request: HttpRequest) -> HttpResponse:
    form = WebhookFilterForm(request.GET or None)
    statuses: tuple[str, ...] = WEBHOOK_ATTENTION_STATUSES
    provider = search = ""
    if form.is_valid():
        data = form.cleaned_data
        status = data["status"]
        statuses = () if status == "all" else (status,) if status else WEBHOOK_ATTENTION_STATUSES
        provider, search = data["provider"], data["search"].strip()
    page = Paginator(webhook_events(statuses=statuses, provider=provider, search=search), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "nav": "webhooks",
        "form": form,
        "page": page,
        "rows": [_row(event) for event in page],
        "held_count": WebhookEvent.objects.using(read_alias()).filter(status=WebhookStatus.HELD).count(),
        "query": query.urlencode(),
    }
    return render(request, "console/finance/webhooks.html", context)


def _row(event: WebhookEvent) -> dict:
    """One inbox line: what the provider said (read back by its own parser), and what we did with it."""
    amount = currency = status = ""
    try:
        parsed = get_provider(event.provider).parse_event(event.payload)
    except (UnknownProvider, WebhookRejected):
        parsed = None
    if parsed is not None:
        currency = parsed.currency or ""
        if parsed.amount_minor is not None and is_known_currency(currency):
            amount = money(parsed.amount_minor, currency)
        status = parsed.provider_status
    return {
        "event": event,
        "amount": amount or currency,
        "provider_status": status,
        "claimed_refund_id": parsed.refund_public_id if parsed is not None else None,
    }
