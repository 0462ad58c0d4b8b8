"""CSV downloads for finance: a run, a date range of runs, the ledger (docs/reconciliation.md "Exports").

Each is a StreamingHttpResponse over a server-side cursor (reconciliation.exports),
so memory stays flat however many rows. Who downloaded what is audited:
these files leave the system.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from audit.enums import AuditAction
from audit.services import audit_record
from console.finance.common import finance_required
from console.finance.forms import RangeForm
from console.views.common import acting
from core.databases import read_alias
from ledger.models import JournalEntry
from reconciliation import exports
from reconciliation.enums import EXCEPTION_KINDS
from reconciliation.models import ReconciliationItem, ReconciliationRun
from reconciliation.selectors import settled_day_latest, settled_in_range
from reconciliation.window import day_window


def _nothing_to_export(request: HttpRequest, *, what: str, day_from, day_to, reason: str) -> HttpResponse:
    """An empty export answered with why it is empty, instead of a file with a header and no rows.

    Says when a refund last settled, with its day's export one click away:
    "nothing" is then a fact about the days asked, not a fault of the export.
    """
    latest = settled_day_latest()
    return render(
        request,
        "console/finance/empty_export.html",
        {"nav": "runs", "what": what, "day_from": day_from, "day_to": day_to, "reason": reason, "latest": latest},
    )


def _settled_reason(day_from, day_to) -> str:
    span = f"on {day_from}" if day_from == day_to else f"between {day_from} and {day_to}"
    if settled_in_range(day_from=day_from, day_to=day_to):
        return f"Refunds settled {span}, but no reconciliation run covers them yet: run the reconciliation first."
    return f"No refund settled {span}."


def _csv_response(chunks, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _audit(request: HttpRequest, subject: str, note: str) -> None:
    audit_record(actor=acting(request), action=AuditAction.RECONCILIATION_EXPORTED, subject=subject[:100], note=note)


@require_GET
@finance_required
def run_export(request: HttpRequest, run_id: int) -> HttpResponse:
    using = read_alias()  # decided now: the CSV streams after this view has returned
    run = get_object_or_404(ReconciliationRun, pk=run_id)
    exceptions_only = request.GET.get("exceptions") == "1"
    items = ReconciliationItem.objects.using(using).filter(run=run)
    if not (items.filter(kind__in=EXCEPTION_KINDS) if exceptions_only else items).exists():
        reason = (
            f"The run of {run.day} found no exceptions."
            if exceptions_only and items.exists()
            else f"The run of {run.day} found nothing: no refund settled on {run.day}, and the provider reported none."
        )
        return _nothing_to_export(request, what="reconciliation", day_from=run.day, day_to=run.day, reason=reason)
    suffix = "-exceptions" if exceptions_only else ""
    _audit(request, f"reconciliation {run.day} {run.provider}", f"run {run.pk} CSV{suffix.replace('-', ' ')}")
    return _csv_response(
        exports.run_csv(run, exceptions_only=exceptions_only, using=using),
        f"reconciliation-{run.day}-{run.provider}-run{run.pk}{suffix}.csv",
    )


@require_GET
@finance_required
def range_export(request: HttpRequest) -> HttpResponse:
    """The current run of every day in a range, one file (e.g. a month for the auditors)."""
    form = RangeForm(request.GET)
    if not form.is_valid():
        return render(request, "console/finance/bad_request.html", {"form": form}, status=400)
    data = form.cleaned_data
    provider = data["provider"] or "all"
    using = read_alias()
    items = ReconciliationItem.objects.using(using).filter(
        run__is_current=True, run__day__gte=data["day_from"], run__day__lte=data["day_to"]
    )
    if data["provider"]:
        items = items.filter(run__provider=data["provider"])
    if data["exceptions"]:
        items = items.filter(kind__in=EXCEPTION_KINDS)
    if not items.exists():
        return _nothing_to_export(
            request,
            what="reconciliation",
            day_from=data["day_from"],
            day_to=data["day_to"],
            reason=_settled_reason(data["day_from"], data["day_to"]),
        )
    suffix = "-exceptions" if data["exceptions"] else ""
    _audit(request, f"reconciliation {data['day_from']}..{data['day_to']}", f"range CSV {provider}{suffix}")
    return _csv_response(
        exports.range_csv(
            day_from=data["day_from"],
            day_to=data["day_to"],
            provider=data["provider"],
            exceptions_only=data["exceptions"],
            using=using,
        ),
        f"reconciliation-{data['day_from']}-{data['day_to']}-{provider}{suffix}.csv",
    )


@require_GET
@finance_required
def ledger_export(request: HttpRequest) -> HttpResponse:
    """Journal entries with their postings, one row per posting, for a range of days."""
    form = RangeForm(request.GET)
    if not form.is_valid():
        return render(request, "console/finance/bad_request.html", {"form": form}, status=400)
    data = form.cleaned_data
    using = read_alias()
    posted = JournalEntry.objects.using(using).filter(
        created_at__gte=day_window(data["day_from"]).start, created_at__lt=day_window(data["day_to"]).end
    )
    if not posted.exists():
        span = f"on {data['day_from']}" if data["day_from"] == data["day_to"] else "in these days"
        return _nothing_to_export(
            request,
            what="ledger",
            day_from=data["day_from"],
            day_to=data["day_to"],
            reason=f"Nothing was posted to the ledger {span}: no refund was approved, settled or reversed.",
        )
    _audit(request, f"ledger {data['day_from']}..{data['day_to']}", "ledger journal CSV")
    return _csv_response(
        exports.ledger_csv(day_from=data["day_from"], day_to=data["day_to"], using=using),
        f"ledger-{data['day_from']}-{data['day_to']}.csv",
    )
