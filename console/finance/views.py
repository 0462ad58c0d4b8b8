"""Finance screens (SPEC §7): reconciliation runs, a run's exceptions, resolving them, the trial balance.

Server-rendered, no JavaScript needed. Every view is gated by
`finance_required`; every change goes through a service in
`reconciliation.services`, which audits it.
"""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.contrib import messages
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from console.finance.common import finance_required, money
from console.finance.forms import (
    BulkResolveForm,
    ItemFilterForm,
    RangeForm,
    ResolveForm,
    RunFilterForm,
    RunRequestForm,
)
from console.views.common import acting
from core.errors import DomainError
from core.queueing import enqueue_best_effort
from reconciliation.enums import ItemKind, RunSource, RunStatus
from reconciliation.models import ReconciliationItem, ReconciliationRun
from reconciliation.selectors import (
    ItemFilters,
    RunFilters,
    current_run_of,
    run_get,
    run_items,
    runs_list,
    trial_balance_latest,
)
from reconciliation.services import (
    reconciliation_item_resolve,
    reconciliation_items_resolve,
    reconciliation_run_create,
    trial_balance_check,
)
from reconciliation.tasks import reconcile_run
from reconciliation.window import yesterday

PAGE_SIZE = 50


def _runs_page(request: HttpRequest, *, request_form: RunRequestForm | None = None, status: int = 200) -> HttpResponse:
    filter_form = RunFilterForm(request.GET or None)
    filters = RunFilters()
    if filter_form.is_valid():
        data = filter_form.cleaned_data
        filters = RunFilters(
            day_from=data["day_from"],
            day_to=data["day_to"],
            provider=data["provider"],
            include_superseded=data["history"],
        )
    page = Paginator(runs_list(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    day = yesterday()
    context = {
        "nav": "runs",
        "page": page,
        "filter_form": filter_form,
        "request_form": request_form or RunRequestForm(initial={"day": day}),
        "range_form": RangeForm(initial={"day_from": day.replace(day=1), "day_to": day}, auto_id="range_%s"),
        "ledger_form": RangeForm(initial={"day_from": day.replace(day=1), "day_to": day}, auto_id="ledger_%s"),
        "trial_balance": _trial_balance_view(),
        "query": _query_without_page(request),
    }
    return render(request, "console/finance/runs.html", context, status=status)


@require_GET
@finance_required
def runs(request: HttpRequest) -> HttpResponse:
    return _runs_page(request)


@require_POST
@finance_required
def run_request(request: HttpRequest) -> HttpResponse:
    """Queue a reconciliation of a day; a worker runs it (a busy day takes longer than a web request may)."""
    form = RunRequestForm(request.POST, request.FILES)
    if not form.is_valid():
        return _runs_page(request, request_form=form, status=400)
    data = form.cleaned_data
    upload_path, source_name = "", ""
    if data["source"] == RunSource.FILE:
        report = data["report"]
        source_name = PurePath(report.name).name[:255]
        upload_path = default_storage.save(f"reconciliation/{uuid.uuid4().hex}.csv", report)
    try:
        with transaction.atomic():
            run = reconciliation_run_create(
                day=data["day"],
                provider=data["provider"],
                source=data["source"],
                actor=acting(request),
                source_name=source_name,
                upload_path=upload_path,
            )
            transaction.on_commit(lambda: _enqueue(run.pk))
    except DomainError as error:
        if upload_path:
            default_storage.delete(upload_path)
        form.add_error(None, error.message)
        return _runs_page(request, request_form=form, status=400)
    messages.success(request, f"Reconciliation of {run.day} ({run.provider}) queued as run {run.pk}.")
    return redirect("finance:run", run_id=run.pk)


def _enqueue(run_id: int) -> None:
    """Hand the run to a worker; if the broker is down the run stays queued, visibly, for a re-run."""
    enqueue_best_effort(
        reconcile_run, kwargs={"run_id": run_id}, message_id="MSG.reconciliation.enqueue_failed", log={"run_id": run_id}
    )


@require_GET
@finance_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    try:
        run = run_get(run_id)
    except ReconciliationRun.DoesNotExist:
        return render(request, "console/finance/not_found.html", status=404)
    filter_form = ItemFilterForm(request.GET or None)
    filters = ItemFilters()
    if filter_form.is_valid():
        data = filter_form.cleaned_data
        filters = ItemFilters(
            kind=data["kind"], resolution=data["resolution"] or "open", currency=data["currency"], search=data["search"]
        )
    page = Paginator(run_items(run, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "nav": "runs",
        "run": run,
        "current": current_run_of(run),
        "running": run.status in (RunStatus.QUEUED, RunStatus.RUNNING),
        "filter_form": filter_form,
        "page": page,
        "rows": [_item_row(item) for item in page],
        "totals": [
            {
                "currency": currency,
                "ledger": money(total["ledger_minor"], currency),
                "ledger_count": total["ledger_count"],
                "provider": money(total["provider_minor"], currency),
                "provider_count": total["provider_count"],
                "difference": money(total["difference_minor"], currency),
                "balanced": total["difference_minor"] == 0,
                "exceptions": total["exceptions"],
            }
            for currency, total in run.totals.items()
        ],
        "counts": [
            {"kind": kind, "label": ItemKind(kind).label, "count": run.counts.get(kind, 0)} for kind in ItemKind.values
        ],
        "query": _query_without_page(request),
        "resolve_form": ResolveForm(),
        "bulk_form": BulkResolveForm(auto_id="bulk_%s"),
        **_resolution_counts(run),
    }
    return render(request, "console/finance/run_detail.html", context)


def _resolution_counts(run: ReconciliationRun) -> dict[str, int]:
    """How many of the run's exceptions are still open (the exception index serves this)."""
    resolved = run_items(run, ItemFilters(resolution="resolved")).count() if run.exception_count else 0
    return {"resolved_count": resolved, "open_count": run.exception_count - resolved}


def _item_row(item: ReconciliationItem) -> dict:
    difference = item.difference_minor
    return {
        "item": item,
        "kind_label": ItemKind(item.kind).label,
        "ours": money(item.our_amount_minor, item.our_currency),
        "provider": money(item.provider_amount_minor, item.provider_currency),
        "difference": money(difference, item.our_currency) if difference else "",
    }


@require_POST
@finance_required
def item_resolve(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(ReconciliationItem, pk=item_id)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = ""
    back = back or reverse("finance:run", kwargs={"run_id": item.run_id})
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say how the exception was resolved (a note is required).")
        return redirect(back)
    try:
        reconciliation_item_resolve(item_id=item.pk, note=form.cleaned_data["note"], actor=acting(request))
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(back)
    messages.success(request, f"Exception {item.provider_refund_id or item.refund_public_id} resolved.")
    return redirect(back)


@require_POST
@finance_required
def items_resolve_bulk(request: HttpRequest, run_id: int) -> HttpResponse:
    """Resolve the selected exceptions with one note and kind; one message per refused row, saying why."""
    run = get_object_or_404(ReconciliationRun, pk=run_id)
    back = _back(request, default=reverse("finance:run", kwargs={"run_id": run.pk}))
    form = BulkResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        return redirect(back)
    data = form.cleaned_data
    try:
        results = reconciliation_items_resolve(
            run_id=run.pk, item_ids=data["item"], note=data["note"], kind=data["kind"], actor=acting(request)
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(back)
    resolved = [result.label for result in results if result.resolved]
    if resolved:
        messages.success(request, f"Resolved {len(resolved)} of {len(results)}: {', '.join(resolved)}.")
    for result in results:
        if not result.resolved:
            messages.error(request, f"Not resolved: {result.label}: {result.message}")
    return redirect(back)


def _back(request: HttpRequest, *, default: str) -> str:
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return default
    return back or default


@require_POST
@finance_required
def trial_balance(request: HttpRequest) -> HttpResponse:
    check = trial_balance_check(checked_by=request.user.get_username())
    if check.is_balanced:
        messages.success(request, "Trial balance checked: every currency sums to zero.")
    else:
        messages.error(request, "Trial balance does NOT sum to zero - see the figures below.")
    return redirect("finance:runs")


def _trial_balance_view() -> dict | None:
    check = trial_balance_latest()
    if check is None:
        return None
    return {
        "check": check,
        "rows": [
            {"currency": currency, "total": money(total, currency), "zero": total == 0}
            for currency, total in sorted(check.balances.items())
        ],
    }


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
