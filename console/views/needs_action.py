"""Needs action: failed refunds, given-up provider calls, held provider events, manual payouts (issue 12).

Each action is a plain POST form that works without JavaScript: it calls one
service (which checks the permission and the state again under the refund's
lock, and audits), then goes back where it was asked from — the list or the
refund's card — with a message saying what happened. Refusals are messages,
never a server error.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from console.forms import CancelFailedForm, PayoutPaidForm
from console.presenters.formatting import money
from console.presenters.needs_action import needs_action_counts, needs_action_sections
from console.views.common import acting, console_permission
from core.errors import DomainError
from refunds.enums import RefundState
from refunds.models import OutboxMessage, Refund, WebhookEvent
from refunds.permissions import Perm
from refunds.services.cancel import refund_cancel
from refunds.services.outbox import outbox_replay
from refunds.services.payout import payout_mark_paid
from refunds.services.submit import refund_submit
from refunds.services.webhooks import webhook_review

S = RefundState


@require_GET
@console_permission(Perm.VIEW_REFUND)
def needs_action(request: HttpRequest) -> HttpResponse:
    """Every kind of entry, oldest first within its kind, with the actions this user may take."""
    context = {
        "nav": "needs_action",
        "sections": needs_action_sections(request.user),
        "counts": needs_action_counts(),
    }
    return render(request, "console/needs_action.html", context)


def _refund_or_404(public_id: str) -> Refund:
    refund = Refund.objects.filter(public_id=public_id).first()
    if refund is None:
        raise Http404("No such refund")
    return refund


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the page the form was on (the list or a card); only ever a path of this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("console:needs_action")


@require_POST
@console_permission(Perm.RESOLVE_FAILED)
def retry(request: HttpRequest, public_id: str) -> HttpResponse:
    """A failed (retryable) refund goes to the provider again, with a new attempt and idempotency key."""
    refund = _refund_or_404(public_id)
    try:
        refund = refund_submit(refund_id=refund.pk, actor=acting(request))
    except DomainError as error:
        messages.error(request, error.message)
        return _back(request)
    amount = money(refund.amount_minor, refund.currency)
    if refund.state == S.COMPLETED:
        messages.success(request, f"Retried: the provider paid {amount} this time. The customer is told.")
    elif refund.state == S.FAILED:
        messages.warning(request, f"Retried, and the provider failed it again: {refund.failure_code or 'unknown'}.")
    else:
        messages.success(request, f"Retried: {amount} is on its way to the provider again. The customer is told.")
    return _back(request)


@require_POST
@console_permission(Perm.RESOLVE_FAILED)
def cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    """Give up on a failed refund: canceled, the money no longer held, the customer gets the cancel email."""
    refund = _refund_or_404(public_id)
    form = CancelFailedForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The note is too long.")
        return _back(request)
    if refund.state != S.FAILED:
        messages.info(request, f"This refund is {refund.get_state_display().lower()} now; nothing was canceled.")
        return _back(request)
    try:
        refund_cancel(refund_id=refund.pk, actor=acting(request), note=form.cleaned_data["note"])
    except DomainError as error:
        messages.error(request, error.message)
        return _back(request)
    messages.success(request, "Canceled. The customer gets an email that this refund was canceled.")
    return _back(request)


@require_POST
@console_permission(Perm.MARK_PAYOUT_PAID)
def payout(request: HttpRequest, public_id: str) -> HttpResponse:
    """Finance paid a manual payout: record its reference, which completes the refund."""
    refund = _refund_or_404(public_id)
    form = PayoutPaidForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reference"][0])
        return _back(request)
    try:
        payout_mark_paid(refund_id=refund.pk, actor=acting(request), reference=form.cleaned_data["reference"])
    except DomainError as error:
        messages.error(request, error.message)
        return _back(request)
    messages.success(request, "Payout recorded: the refund is completed and the customer is told.")
    return _back(request)


@require_POST
@console_permission(Perm.VIEW_FINANCE)
def replay(request: HttpRequest, message_id: int) -> HttpResponse:
    """A dead-lettered provider call gets a fresh set of attempts, with the same idempotency key."""
    if not OutboxMessage.objects.filter(pk=message_id).exists():
        raise Http404("No such message")
    try:
        outbox_replay(message_id=message_id, actor=acting(request))
    except DomainError as error:
        messages.error(request, error.message)
        return _back(request)
    messages.success(request, "Queued again: the provider is asked once more, with the same key.")
    return _back(request)


@require_POST
@console_permission(Perm.VIEW_FINANCE)
def review(request: HttpRequest, event_pk: int) -> HttpResponse:
    """Finance looked at a held provider event: it leaves Needs action (it stays held in the inbox)."""
    if not WebhookEvent.objects.filter(pk=event_pk).exists():
        raise Http404("No such event")
    try:
        webhook_review(event_pk=event_pk, actor=acting(request), note=request.POST.get("note", ""))
    except DomainError as error:
        messages.error(request, error.message)
        return _back(request)
    messages.success(request, "Marked reviewed. The event stays held in the webhook inbox, with your note.")
    return _back(request)
