"""The refund card and its three actions: approve, edit (then approve), decline.

Every action is a plain POST form that works without JavaScript (redirect
back to the card on success, the card with the message on refusal); with
htmx the same forms swap the card in place. Refusals from the services
(maker-checker, dual control, a state that moved on) are shown as messages,
never as a server error.
"""

from __future__ import annotations

import io

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.forms import ApproveForm, DeclineForm, EditForm
from console.presenters.card import console_refund, refund_card
from console.presenters.formatting import money
from console.presenters.needs_action import refund_needs_action
from console.presenters.queue import next_waiting_refund
from console.presenters.webhooks import refund_event_deliveries
from console.views.card_work import card_work_context
from console.views.common import acting, console_permission
from core.errors import (
    ERR_AMOUNT_RANGE,
    ERR_CONFLICT_CHANGED,
    ERR_EXCEEDS_REMAINING,
    ERR_REPLY_AMOUNT_MISMATCH,
    ERR_REPLY_PLACEHOLDER,
    DomainError,
)
from core.money import major_input
from refunds.enums import RefundState
from refunds.models import EvidenceFile, Refund
from refunds.permissions import Perm
from refunds.selectors import approval_outcome_text, reply_declines
from refunds.services.decide import refund_approve, refund_deny, refund_edit
from refunds.services.evidence import evidence_read
from refunds.services.policy import high_value_threshold_minor

CARD_TARGET = "card"
DECLINE_DRAFT_MESSAGE = (
    "The drafted reply still declines this refund. Write the reply the customer should get with the "
    "approval (Edit draft or amount), then approve."
)
HIGH_VALUE_MESSAGE = (
    "{amount} is above {threshold}, the policy's high-value threshold for {currency}. "
    "Tick “I confirm approving this high-value refund”, then approve again."
)
HIGH_VALUE_FIELD_ERROR = "Tick this box to approve an amount above the high-value threshold."
# After the catalogue's message for ERR.CONFLICT.changed.
CHANGED_MESSAGE = "Nothing was done. It is now {amount}: check the card below as it is now, then decide again."


def _refund_or_404(public_id: str) -> Refund:
    refund = console_refund(public_id=public_id)
    if refund is None:
        raise Http404("No such refund")
    return refund


def _edit_form(card, data=None) -> EditForm:
    refund = card.refund
    return EditForm(
        data,
        currency=refund.currency,
        available=card.available,
        initial={
            "reply": refund.draft_reply,
            "amount": major_input(refund.amount_minor, refund.currency),
            "version": refund.version,
        },
    )


def _render_card(
    request: HttpRequest,
    public_id: str,
    *,
    status: int = 200,
    edit_form: EditForm | None = None,
    decline_form: DeclineForm | None = None,
    approve_form: ApproveForm | None = None,
    edit_open: bool = False,
) -> HttpResponse:
    """The card, freshly read (an action may just have changed it), with any forms carrying errors.

    htmx requests get the card fragment with status 200 so htmx swaps it in
    (it ignores error statuses); plain requests get the whole page with the
    refusal's own status.
    """
    refund = _refund_or_404(public_id)
    card = refund_card(refund=refund, user=request.user)
    context = {
        "card": card,
        "refund": refund,
        # The version goes with each form: acting on it is acting on the refund as shown here.
        "approve_form": approve_form or ApproveForm(initial={"version": refund.version}),
        "decline_form": decline_form or DeclineForm(initial={"note": card.decline_draft}),
        "edit_form": edit_form or _edit_form(card),
        "edit_open": edit_open or edit_form is not None,
        "next_refund": next_waiting_refund(after=refund),
        # Failed, given up at the provider, or a manual payout waiting: the failure in words, and what to do.
        "needs_action": refund_needs_action(refund, request.user),
        # Was the merchant told? Its events of this refund and their webhook deliveries (two queries).
        "merchant_events": refund_event_deliveries(refund),
    }
    if request.htmx:
        return render(request, f"console/card.html#{CARD_TARGET}", context)
    context.update(card_work_context(request, refund))
    return render(request, "console/card.html", context, status=status)


def _after_action(request: HttpRequest, public_id: str) -> HttpResponse:
    """Success: htmx swaps the fresh card in; without JavaScript, post/redirect/get."""
    if request.htmx:
        return _render_card(request, public_id)
    return redirect("console:card", public_id=public_id)


def _refused(request: HttpRequest, public_id: str, error: DomainError, **forms) -> HttpResponse:
    if error.code == ERR_CONFLICT_CHANGED:
        # The forms as posted carry the old version: show the card as it is now, with fresh forms.
        refund = _refund_or_404(public_id)
        amount = money(refund.amount_minor, refund.currency)
        messages.error(request, f"{error.message} {CHANGED_MESSAGE.format(amount=amount)}")
        return _render_card(request, public_id, status=error.http_status)
    messages.error(request, error.message)
    return _render_card(request, public_id, status=error.http_status, **forms)


@require_GET
@console_permission(Perm.VIEW_REFUND)
def card(request: HttpRequest, public_id: str) -> HttpResponse:
    return _render_card(request, public_id)


@require_POST
@console_permission(Perm.DECIDE)
def approve(request: HttpRequest, public_id: str) -> HttpResponse:
    refund = _refund_or_404(public_id)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The note is too long.")
        return _render_card(request, public_id, status=400, approve_form=form)
    card = refund_card(refund=refund, user=request.user)
    # Only when this user could approve: a maker or a decided refund gets the service's own answer.
    if card.can_approve and card.reply_declines:
        messages.error(request, DECLINE_DRAFT_MESSAGE)
        return _render_card(request, public_id, status=400, approve_form=form)
    unconfirmed = _high_value_unconfirmed(refund, refund.amount_minor, form)
    if card.can_approve and unconfirmed:
        form.add_error("confirm_high_value", HIGH_VALUE_FIELD_ERROR)
        messages.error(request, unconfirmed)
        return _render_card(request, public_id, status=400, approve_form=form)
    already_decided = refund.state != RefundState.REQUESTED
    try:
        refund = refund_approve(
            refund_id=refund.pk,
            actor=acting(request),
            note=form.cleaned_data["note"],
            expected_version=form.cleaned_data["version"],
        )
    except DomainError as error:
        return _refused(request, public_id, error, approve_form=form)
    if already_decided:
        # The service answers a repeated approval idempotently; say so rather than claim a new one.
        messages.info(request, f"This refund was already {refund.get_state_display().lower()}; nothing changed.")
    else:
        messages.success(request, approval_outcome_text(refund))
    return _after_action(request, public_id)


def _high_value_unconfirmed(refund: Refund, amount_minor: int, form: ApproveForm | EditForm) -> str:
    """The refusal to show when approving `amount_minor` needs the high-value confirmation and it is not ticked.

    Asked of the refund's own policy version (the one that decided it), as
    its dual control is; the queue's bulk approve asks the same threshold.
    """
    if form.cleaned_data.get("confirm_high_value"):
        return ""
    threshold = high_value_threshold_minor(refund.policy_version, refund.currency)
    if threshold is None or amount_minor <= threshold:
        return ""
    return HIGH_VALUE_MESSAGE.format(
        amount=money(amount_minor, refund.currency),
        threshold=money(threshold, refund.currency),
        currency=refund.currency,
    )


@require_POST
@console_permission(Perm.DECIDE)
def decline(request: HttpRequest, public_id: str) -> HttpResponse:
    refund = _refund_or_404(public_id)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        messages.error(request, next(iter(form.errors.values()))[0])
        return _render_card(request, public_id, status=400, decline_form=form)
    already_declined = refund.state == RefundState.DENIED
    try:
        refund = refund_deny(
            refund_id=refund.pk,
            actor=acting(request),
            note=form.cleaned_data["note"],
            rationale=form.cleaned_data["rationale"],
        )
    except DomainError as error:
        if error.code == ERR_REPLY_PLACEHOLDER:
            form.add_error("note", error.message)
        return _refused(request, public_id, error, decline_form=form)
    if already_declined:
        messages.info(request, "This refund was already declined; the reason given then stands.")
    elif refund.override_flagged:
        messages.warning(request, "Declined. This overrides the policy's approve recommendation and is flagged.")
    else:
        messages.success(request, "Declined. The customer gets a kind decline with your message.")
    return _after_action(request, public_id)


@require_http_methods(["GET", "POST"])
@console_permission(Perm.DECIDE)
def edit(request: HttpRequest, public_id: str) -> HttpResponse:
    """GET opens the draft for editing in place; POST saves it, and approves too if asked.

    "Save and approve" runs the edit and the approval in one transaction: if
    the approval is refused (maker-checker, dual control) the edit is rolled
    back with it and the form comes back as typed, so the agent never ends up
    with half of what they asked for. Both steps are audited separately.
    """
    refund = _refund_or_404(public_id)
    card = refund_card(refund=refund, user=request.user)
    if request.method == "GET":
        return _render_card(request, public_id, edit_open=True)
    form = _edit_form(card, request.POST)
    if not form.is_valid():
        messages.error(request, "Check the highlighted fields.")
        return _render_card(request, public_id, status=400, edit_form=form)
    also_approve = request.POST.get("action") == "approve"
    keeps_decline_draft = reply_declines(card.refund, form.cleaned_data["reply"])
    if also_approve and card.can_approve and keeps_decline_draft:
        form.add_error("reply", DECLINE_DRAFT_MESSAGE)
        messages.error(request, DECLINE_DRAFT_MESSAGE)
        return _render_card(request, public_id, status=400, edit_form=form)
    unconfirmed = also_approve and _high_value_unconfirmed(refund, form.cleaned_data["amount"], form)
    if unconfirmed and card.can_approve:
        form.add_error("confirm_high_value", HIGH_VALUE_FIELD_ERROR)
        messages.error(request, unconfirmed)
        return _render_card(request, public_id, status=400, edit_form=form)
    actor = acting(request)
    try:
        with transaction.atomic():
            refund = refund_edit(
                refund_id=refund.pk,
                actor=actor,
                amount_minor=form.cleaned_data["amount"],
                reply=form.cleaned_data["reply"],
                note=form.cleaned_data["note"],
                expected_version=form.cleaned_data["version"],
            )
            if also_approve:
                # The terms just saved are the ones this person sees: approve exactly that version.
                refund = refund_approve(
                    refund_id=refund.pk,
                    actor=actor,
                    note=form.cleaned_data["note"],
                    expected_version=refund.version,
                )
    except DomainError as error:
        if error.code in {ERR_EXCEEDS_REMAINING, ERR_AMOUNT_RANGE}:
            form.add_error("amount", error.message)
        elif error.code in {ERR_REPLY_AMOUNT_MISMATCH, ERR_REPLY_PLACEHOLDER}:
            form.add_error("reply", error.message)
        return _refused(request, public_id, error, edit_form=form)
    messages.success(request, approval_outcome_text(refund) if also_approve else "Your changes to the draft are saved.")
    return _after_action(request, public_id)


@require_GET
@console_permission(Perm.VIEW_REFUND)
def evidence_download(request: HttpRequest, public_id: str, evidence_id: int) -> HttpResponse:
    """Decrypt one evidence file for a signed-in agent; always a download, never rendered inline."""
    evidence = EvidenceFile.objects.filter(pk=evidence_id, refund__public_id=public_id).first()
    if evidence is None:
        raise Http404("No such evidence file")
    try:
        data = evidence_read(evidence=evidence)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("console:card", public_id=public_id)
    response = FileResponse(
        io.BytesIO(data), as_attachment=True, filename=evidence.original_name, content_type=evidence.content_type
    )
    response["Cache-Control"] = "private, no-store"
    return response
