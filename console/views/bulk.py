"""Bulk approve / decline from the queue: one confirmation for the batch, then a result per refund.

Step 1 (the queue's form, no `confirm`): the confirmation page lists each
ticked refund with what will happen — approved, first of two approvals
(dual control: a second senior must approve), or refused and why — and, to
decline, asks for the message the customers get. Step 2 (`confirm`): each
refund goes through the same decision service as its card
(`refund_approve` / `refund_deny`), one by one, each in its own
transaction, with the version the confirmation showed; a refusal of one
never undoes or blocks the others. Nothing here bypasses maker-checker, dual
control or the version check: the services refuse under their row locks.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.forms import BulkForm
from console.presenters.bulk import (
    APPROVE,
    APPROVED,
    AWAITING,
    DECLINE_DRAFT_REFUSAL,
    DECLINED,
    REFUSED,
    UNCHANGED,
    BulkLine,
    bulk_preview,
    bulk_refunds,
    bulk_summary,
    high_value_text,
)
from console.presenters.formatting import money
from console.views.common import acting, console_permission
from core.errors import DomainError
from refunds.enums import DecisionKind, RefundState
from refunds.models import Refund
from refunds.permissions import Perm
from refunds.selectors import reply_declines
from refunds.services.decide import refund_approve, refund_deny


def _back(request: HttpRequest) -> str:
    """The queue view the batch came from (its query string only: never another site)."""
    query = request.POST.get("back", "")
    return reverse("console:queue") + (f"?{query}" if query and "//" not in query else "")


@require_POST
@console_permission(Perm.DECIDE)
def bulk(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, errors[0])
        return redirect(_back(request))
    action = form.cleaned_data["action"]
    refunds = bulk_refunds(form.cleaned_data["refund"])
    note = form.cleaned_data["note"].strip()
    if not form.cleaned_data["confirm"] or (action != APPROVE and not note):
        if form.cleaned_data["confirm"]:
            form.add_error("note", "Declining needs a message to the customers.")
        return _confirm_page(request, form, refunds, status=400 if form.errors else 200)
    versions, rationale = form.versions(), form.cleaned_data["rationale"].strip()
    lines = [_decide(request, refund, action, note, rationale, versions.get(refund.public_id, 0)) for refund in refunds]
    return render(
        request,
        "console/bulk.html",
        {"step": "result", "action": action, "lines": lines, "summary": bulk_summary(lines), "back": _back(request)},
    )


def _confirm_page(request: HttpRequest, form: BulkForm, refunds: list[Refund], *, status: int) -> HttpResponse:
    lines = bulk_preview(refunds=refunds, action=form.cleaned_data["action"], user=request.user)
    return render(
        request,
        "console/bulk.html",
        {
            "step": "confirm",
            "action": form.cleaned_data["action"],
            "form": form,
            "lines": lines,
            "summary": bulk_summary(lines),
            "acting": [line for line in lines if not line.refused],
            "back": _back(request),
            "back_query": request.POST.get("back", ""),
        },
        status=status,
    )


def _decide(request: HttpRequest, refund: Refund, action: str, note: str, rationale: str, version: int) -> BulkLine:
    """One refund of the batch through its decision service (its own transaction); the outcome in words."""
    amount = money(refund.amount_minor, refund.currency)
    before = refund.state
    if action == APPROVE and before == RefundState.REQUESTED and reply_declines(refund):
        # The card's rule, not the service's: the approval email would carry a reply that declines.
        return BulkLine(refund, amount, REFUSED, DECLINE_DRAFT_REFUSAL)
    high_value = high_value_text(refund) if action == APPROVE else ""
    if high_value and request.POST.get(f"confirm_high_value_{refund.public_id}") != "on":
        # The card's rule too (console.views.card): money above the threshold moves only after its own tick.
        return BulkLine(refund, amount, REFUSED, f"{high_value}Tick its confirmation to approve it.")
    try:
        if action == APPROVE:
            refund = refund_approve(refund_id=refund.pk, actor=acting(request), expected_version=version)
        else:
            refund = refund_deny(
                refund_id=refund.pk, actor=acting(request), note=note, rationale=rationale, expected_version=version
            )
    except DomainError as error:
        return BulkLine(refund, amount, REFUSED, error.message)
    amount = money(refund.amount_minor, refund.currency)
    if before != RefundState.REQUESTED:
        return BulkLine(refund, amount, UNCHANGED, f"Already {refund.get_state_display().lower()}; nothing changed.")
    if refund.state == RefundState.APPROVED:
        return BulkLine(refund, amount, APPROVED, "Approved. The customer gets the drafted reply.")
    if refund.state == RefundState.DENIED:
        return BulkLine(refund, amount, DECLINED, "Declined. The customer gets your message.")
    given = refund.decisions.filter(kind=DecisionKind.APPROVE).count()
    return BulkLine(
        refund,
        amount,
        AWAITING,
        f"Awaiting second approval: yours is recorded ({given} of {refund.approvals_required}); "
        "a different senior agent must give the next one.",
    )
