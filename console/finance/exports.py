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
from reconciliation import exports
from reconciliation.models import ReconciliationRun


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
    run = get_object_or_404(ReconciliationRun, pk=run_id)
    exceptions_only = request.GET.get("exceptions") == "1"
    suffix = "-exceptions" if exceptions_only else ""
    _audit(request, f"reconciliation {run.day} {run.provider}", f"run {run.pk} CSV{suffix.replace('-', ' ')}")
    return _csv_response(
        exports.run_csv(run, exceptions_only=exceptions_only),
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
    suffix = "-exceptions" if data["exceptions"] else ""
    _audit(request, f"reconciliation {data['day_from']}..{data['day_to']}", f"range CSV {provider}{suffix}")
    return _csv_response(
        exports.range_csv(
            day_from=data["day_from"],
            day_to=data["day_to"],
            provider=data["provider"],
            exceptions_only=data["exceptions"],
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
    _audit(request, f"ledger {data['day_from']}..{data['day_to']}", "ledger journal CSV")
    return _csv_response(
        exports.ledger_csv(day_from=data["day_from"], day_to=data["day_to"]),
        f"ledger-{data['day_from']}-{data['day_to']}.csv",
    )
