"""Finance screens of the books: month close with its four-eyes reopen, and maker-checker correcting entries.

Every change goes through a service (`reconciliation.periods`,
`reconciliation.corrections`), which checks the role again and audits it;
these views translate forms and refusals. Whether someone may be the second
pair of eyes is asked of the same function the services ask
(`refunds.permissions.second_finance_refusal`), so the screen never offers
an approval the service then refuses.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from console.finance.common import finance_required, money
from console.finance.forms import CorrectionForm, DecisionForm, PeriodCloseForm, ReopenRequestForm
from console.views.common import acting
from core.errors import DomainError
from ledger.calendar import business_today, month_start
from ledger.enums import AccountCode, CorrectionState, ReopenState
from ledger.models import AccountingPeriod, CorrectingEntry, PeriodReopenRequest
from reconciliation.corrections import correction_approve, correction_draft, correction_reject
from reconciliation.periods import (
    period_close,
    period_readiness,
    period_reopen_approve,
    period_reopen_reject,
    period_reopen_request,
)
from refunds.permissions import second_finance_refusal

MONTHS_SHOWN = 12
DECISIONS = ("approve", "reject")


def _months_back(count: int) -> list[date]:
    month, months = month_start(business_today()), []
    for _ in range(count):
        months.append(month)
        month = month_start(date.fromordinal(month.toordinal() - 1))
    return months


def _previous_month() -> date:
    return _months_back(2)[1]


@require_GET
@finance_required
def periods(request: HttpRequest) -> HttpResponse:
    close_form = PeriodCloseForm(request.GET or None, initial={"month": _previous_month()})
    month = close_form.cleaned_data["month"] if close_form.is_valid() else _previous_month()
    return _periods_page(request, month=month, close_form=PeriodCloseForm(initial={"month": month}))


def _periods_page(request: HttpRequest, *, month: date, close_form: PeriodCloseForm, status: int = 200) -> HttpResponse:
    stored = {period.month: period for period in AccountingPeriod.objects.select_related("closed_by")}
    pending = {
        request_.period_id: request_
        for request_ in PeriodReopenRequest.objects.filter(state=ReopenState.PENDING).select_related("requested_by")
    }
    months = sorted(set(_months_back(MONTHS_SHOWN)) | set(stored), reverse=True)
    rows = []
    for each in months:
        period = stored.get(each)
        reopen = pending.get(each)
        rows.append(
            {
                "month": each,
                "period": period,
                "closed": bool(period and period.is_closed),
                "reopen": reopen,
                "reopen_form": ReopenRequestForm(initial={"month": each}, auto_id=f"reopen-{each:%Y-%m}-%s"),
                "may_approve": reopen is not None
                and second_finance_refusal(request.user, first_user_id=reopen.requested_by_id, what="reopen") is None,
            }
        )
    current = stored.get(month)
    context = {
        "nav": "periods",
        "rows": rows,
        "month": month,
        "month_closed": bool(current and current.is_closed),
        "readiness": period_readiness(month=month),
        "close_form": close_form,
        "decision_form": DecisionForm(),
        "history": PeriodReopenRequest.objects.exclude(state=ReopenState.PENDING).select_related(
            "requested_by", "decided_by"
        )[:20],
    }
    return render(request, "console/finance/periods.html", context, status=status)


@require_POST
@finance_required
def period_close_view(request: HttpRequest) -> HttpResponse:
    form = PeriodCloseForm(request.POST)
    if not form.is_valid():
        return _periods_page(request, month=_previous_month(), close_form=form, status=400)
    month = form.cleaned_data["month"]
    try:
        period_close(month=month, actor=acting(request), note=form.cleaned_data["note"])
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(f"{_periods_url()}?month={month:%Y-%m}")
    messages.success(request, f"{month:%B %Y} is closed: nothing more is booked into it.")
    return redirect(f"{_periods_url()}?month={month:%Y-%m}")


@require_POST
@finance_required
def period_reopen_request_view(request: HttpRequest) -> HttpResponse:
    form = ReopenRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the month must be reopened (a reason is required).")
        return redirect(_periods_url())
    month = form.cleaned_data["month"]
    try:
        period_reopen_request(month=month, reason=form.cleaned_data["reason"], actor=acting(request))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Reopening {month:%B %Y} is requested; another finance user must approve it.")
    return redirect(_periods_url())


@require_POST
@finance_required
def period_reopen_decide(request: HttpRequest, request_id: int, decision: str) -> HttpResponse:
    if decision not in DECISIONS:
        return render(request, "console/finance/not_found.html", status=404)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        if decision == "approve":
            done = period_reopen_approve(request_id=request_id, actor=acting(request), note=note)
            messages.success(request, f"{done.period.month:%B %Y} is open again.")
        else:
            done = period_reopen_reject(request_id=request_id, actor=acting(request), note=note)
            messages.success(request, f"The reopen of {done.period.month:%B %Y} is rejected; it stays closed.")
    except DomainError as error:
        messages.error(request, error.message)
    return redirect(_periods_url())


def _periods_url() -> str:
    return reverse("finance:periods")


def _correction_row(correction: CorrectingEntry, user) -> dict:
    return {
        "correction": correction,
        "amount": money(correction.amount_minor, correction.currency),
        "lines": [
            {
                "account": AccountCode(account).label if account in AccountCode.values else account,
                "debit": money(amount, correction.currency) if amount > 0 else "",
                "credit": money(-amount, correction.currency) if amount < 0 else "",
            }
            for account, amount in correction.lines
        ],
        "may_approve": correction.state == CorrectionState.DRAFT
        and second_finance_refusal(user, first_user_id=correction.maker_id, what="correction") is None,
    }


def _corrections_page(request: HttpRequest, *, form: CorrectionForm, status: int = 200) -> HttpResponse:
    corrections = CorrectingEntry.objects.select_related("maker", "checker", "journal_entry")
    context = {
        "nav": "corrections",
        "form": form,
        "decision_form": DecisionForm(),
        "drafts": [_correction_row(c, request.user) for c in corrections.filter(state=CorrectionState.DRAFT)],
        "decided": [_correction_row(c, request.user) for c in corrections.exclude(state=CorrectionState.DRAFT)[:50]],
    }
    return render(request, "console/finance/corrections.html", context, status=status)


@require_GET
@finance_required
def corrections(request: HttpRequest) -> HttpResponse:
    return _corrections_page(request, form=CorrectionForm())


@require_POST
@finance_required
def correction_draft_view(request: HttpRequest) -> HttpResponse:
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        return _corrections_page(request, form=form, status=400)
    data = form.cleaned_data
    try:
        correction = correction_draft(
            currency=data["currency"], lines=data["lines"], reason=data["reason"], actor=acting(request)
        )
    except DomainError as error:
        form.add_error(None, error.message)
        return _corrections_page(request, form=form, status=400)
    messages.success(request, f"Correction {correction.pk} drafted; another finance user must approve it.")
    return redirect("finance:corrections")


@require_POST
@finance_required
def correction_decide(request: HttpRequest, correction_id: int, decision: str) -> HttpResponse:
    if decision not in DECISIONS:
        return render(request, "console/finance/not_found.html", status=404)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        if decision == "approve":
            done = correction_approve(correction_id=correction_id, actor=acting(request), note=note)
            messages.success(
                request,
                f"Correction {done.pk} posted as journal entry {done.journal_entry_id}, "
                f"booked on {done.journal_entry.booked_on}.",
            )
        else:
            done = correction_reject(correction_id=correction_id, actor=acting(request), note=note)
            messages.success(request, f"Correction {done.pk} rejected; nothing was posted.")
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("finance:corrections")
