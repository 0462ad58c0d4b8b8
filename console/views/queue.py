"""The review queue: refunds waiting for a decision, oldest first, filtered and paginated."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.forms import QueueFilterForm
from console.presence import viewers_of
from console.presenters.queue import (
    VIEW_OVERRIDES,
    console_queue,
    console_queue_counts,
    merchant_choices,
    queue_rows,
    sort_key,
    sort_links,
)
from console.views.common import console_permission
from refunds.permissions import Perm, decide_refusal

SORT_LABELS = {
    "age": "oldest first",
    "-age": "newest first",
    "order": "by order id",
    "-order": "by order id, descending",
    "customer": "by customer",
    "-customer": "by customer, descending",
    "reason": "by reason",
    "-reason": "by reason, descending",
    "amount": "by currency and amount",
    "-amount": "by currency and amount, largest first",
    "state": "by state",
    "-state": "by state, descending",
}

PAGE_SIZE = 25
RESULTS_TARGET = "queue-results"


@require_GET
@console_permission(Perm.VIEW_REFUND)
def queue(request: HttpRequest) -> HttpResponse:
    """The queue page; for htmx (filters, paging, the periodic refresh) only the results region.

    Staff see every merchant; with more than one, each row names its merchant
    and the merchant filter narrows the queue (and its tab counts) to one.
    Filters and the page number live in the query string, so the periodic
    refresh re-asks exactly what the agent is looking at, and every view of
    the queue can be bookmarked or opened without JavaScript.
    """
    merchants = merchant_choices()
    form = QueueFilterForm(request.GET or None, merchants=merchants)
    if form.is_bound:
        form.is_valid()
    filters = form.filters(user_id=request.user.pk)
    page = Paginator(console_queue(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    refunds = list(page.object_list)
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "rows": queue_rows(refunds, viewers=viewers_of(public_ids=[r.public_id for r in refunds], user=request.user)),
        "sorts": sort_links(filters.sort),
        "sort_label": SORT_LABELS[sort_key(filters.sort)],
        "sort_query": _without(params, "sort"),
        # Bulk decisions are offered to who may decide at all; each refund is still checked on its own.
        "may_decide": decide_refusal(request.user) is None,
        "counts": console_queue_counts(merchant=filters.merchant),
        # With one merchant (a single-merchant installation) there is nothing to tell apart.
        "show_merchants": len(merchants) > 1,
        "query": params.urlencode(),
        "view_query": _without(params, "view"),
        "nav": "overrides" if filters.view == VIEW_OVERRIDES else "queue",
    }
    if request.htmx and request.htmx.target == RESULTS_TARGET:
        # The results, plus the tabs out of band (their counts and filter-carrying links).
        return render(request, "console/queue.html#refresh", context)
    return render(request, "console/queue.html", context)


def _without(params, key: str) -> str:
    copy = params.copy()
    copy.pop(key, None)
    return copy.urlencode()
