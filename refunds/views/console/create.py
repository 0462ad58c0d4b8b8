"""Creating a refund on a customer's behalf: same services and policy as the API."""

from __future__ import annotations

import logging
import uuid

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from redis.exceptions import RedisError

from refunds.errors import ERR_AMOUNT_RANGE, ERR_CURRENCY_MISMATCH, ERR_EXCEEDS_REMAINING, DomainError
from refunds.forms import CreateRefundForm, OrderLookupForm
from refunds.models import Order, Refund
from refunds.money import format_plain
from refunds.selectors_console import console_order, major_input
from refunds.services.evidence import evidence_validate, refund_request_with_evidence
from refunds.views.console.common import PERM_REQUEST, acting, console_permission

logger = logging.getLogger("refunds.console")
AMOUNT_ERRORS = {ERR_AMOUNT_RANGE, ERR_EXCEEDS_REMAINING, ERR_CURRENCY_MISMATCH}
# How long a sent form is remembered: longer than anyone leaves a tab open and presses "resend".
SUBMISSION_TTL_SECONDS = 24 * 3600
_IN_FLIGHT = "in-flight"


def submission_key(*, user_id: int, token: str) -> str:
    """Where a sent create form is remembered; per agent, so one agent's token never blocks another."""
    return f"console:create:{user_id}:{token}"


def _claim(key: str) -> bool | None:
    """Claim a form token: True for the first sender, False if it was sent before, None without a cache.

    Without the cache the guard is skipped rather than the refund refused:
    a twin refund is visible and cancelable, an agent unable to work is not.
    """
    try:
        return cache.add(key, _IN_FLIGHT, timeout=SUBMISSION_TTL_SECONDS)
    except RedisError:
        logger.warning("submission guard unavailable", extra={"message_id": "MSG.console.guard_unavailable"})
        return None


def _settle(key: str, public_id: str | None) -> None:
    """Remember the refund a token created, or release the token after a refusal."""
    try:
        if public_id:
            cache.set(key, public_id, timeout=SUBMISSION_TTL_SECONDS)
        else:
            cache.delete(key)
    except RedisError:
        # The refund (or the refusal) stands either way; a resend is then told to wait, or allowed.
        logger.warning("submission guard unavailable", extra={"message_id": "MSG.console.guard_unavailable"})


@require_http_methods(["GET", "POST"])
@console_permission(PERM_REQUEST)
def create(request: HttpRequest) -> HttpResponse:
    """Pick an order (`?order=`), then amount, reason, note and evidence.

    The order is chosen with a GET form so the page works without
    JavaScript; the amount defaults to what is left to refund. The refund and
    its evidence files are created together by `refund_request_with_evidence`;
    any refusal (over remaining, not captured, a file of the wrong type) comes
    back on the form, and nothing is stored. A form sent twice creates one
    refund (see `_create_once`).
    """
    order_id = (request.GET.get("order") or "").strip()
    lookup = OrderLookupForm({"order": order_id} if order_id else None)
    order = console_order(order_id=order_id) if order_id else None
    if order_id and order is None:
        lookup.add_error("order", f"No order with id “{order_id}”.")
    context = {"lookup": lookup, "order": order, "nav": "create"}
    if order is None:
        return render(request, "console/create.html", context, status=404 if order_id else 200)

    payment = getattr(order, "payment", None)
    currency = payment.currency if payment else order.currency
    remaining = payment.remaining_refundable_minor if payment else 0
    context.update(
        captured=format_plain(payment.amount_minor, currency) if payment else "no payment",
        remaining=format_plain(remaining, currency),
        nothing_left=payment is not None and remaining == 0,
        payment=payment,
    )
    if request.method == "GET":
        form = CreateRefundForm(
            currency=currency,
            initial={"amount": major_input(remaining, currency), "submission": uuid.uuid4().hex},
        )
        return render(request, "console/create.html", {**context, "form": form})

    form = CreateRefundForm(request.POST, request.FILES, currency=currency)
    if not form.is_valid():
        return render(request, "console/create.html", {**context, "form": form}, status=400)
    return _create_once(request, form, order=order, currency=currency, context=context)


def _create_once(
    request: HttpRequest, form: CreateRefundForm, *, order: Order, currency: str, context: dict
) -> HttpResponse:
    """Create the refund unless this very form was already sent.

    The form's token is claimed with an atomic add in the shared cache
    (Redis in production and tests), so two copies of one POST racing on
    different web processes cannot both create: the second one is sent to the
    refund the first made, or told to wait while the first is still running.
    A refusal releases the token, so the agent can correct the form and send
    it again.
    """
    token = form.cleaned_data.get("submission") or ""
    key = submission_key(user_id=request.user.pk, token=token) if token else ""
    claimed = _claim(key) if key else None
    if claimed is None:
        key = ""
    elif not claimed:
        created = cache.get(key)
        if created and created != _IN_FLIGHT and Refund.objects.filter(public_id=created).exists():
            messages.info(request, f"This form was already sent: refund {created} exists, nothing new was created.")
            return redirect("console:card", public_id=created)
        form.add_error(None, "This form is already being sent. Wait a moment, then look for the refund in the queue.")
        return render(request, "console/create.html", {**context, "form": form}, status=409)
    try:
        uploads = evidence_validate(files=form.cleaned_data["evidence"])
        refund = refund_request_with_evidence(
            order=order,
            amount_minor=form.cleaned_data["amount"],
            currency=currency,
            reason=form.cleaned_data["reason"],
            actor=acting(request),
            customer_note=form.cleaned_data["customer_note"],
            uploads=uploads,
        )
    except DomainError as error:
        if key:
            _settle(key, None)
        field = error.details.get("field")
        if field == "evidence":
            form.add_error("evidence", error.message)
        elif error.code in AMOUNT_ERRORS:
            form.add_error("amount", error.message)
        else:
            form.add_error(None, error.message)
        return render(request, "console/create.html", {**context, "form": form}, status=error.http_status)
    except BaseException:
        if key:
            _settle(key, None)
        raise
    if key:
        _settle(key, refund.public_id)
    messages.success(
        request,
        f"Refund {refund.public_id} created: {refund.get_state_display()} by policy rule {refund.policy_rule}.",
    )
    return redirect("console:card", public_id=refund.public_id)
