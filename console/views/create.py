"""Creating a refund on a customer's behalf: same services and policy as the API."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from console.forms import HOW_AMOUNT, HOW_LINES, HOW_TIME, CreateRefundForm, OrderLookupForm
from console.presenters.card import console_orders
from console.presenters.formatting import money
from console.views.common import acting, console_permission
from core.errors import ERR_AMOUNT_RANGE, ERR_CURRENCY_MISMATCH, ERR_EXCEEDS_REMAINING, DomainError
from core.money import major_input
from core.uploads import bounded_upload
from refunds.models import Order, Refund
from refunds.permissions import Perm
from refunds.services.evidence import (
    evidence_max_bytes,
    evidence_max_files,
    evidence_validate,
    refund_request_with_evidence,
)
from refunds.services.policy import policy_get_active

AMOUNT_ERRORS = {ERR_AMOUNT_RANGE, ERR_CURRENCY_MISMATCH, ERR_EXCEEDS_REMAINING}


# Evidence is refused by size as it streams in, before Django stores it (see core.uploads).
@bounded_upload(max_file_bytes=evidence_max_bytes, max_files=evidence_max_files)
@require_http_methods(["GET", "POST"])
@console_permission(Perm.REQUEST)
def create(request: HttpRequest) -> HttpResponse:
    """Pick an order (`?order=`, and `&merchant=` when several merchants use that id), then how much
    (an amount, units of its lines, or the time not used of a service), reason, note and evidence.

    The order is chosen with a GET form so the page works without
    JavaScript; the amount defaults to what is left to refund. The refund and
    its evidence files are created together by `refund_request_with_evidence`;
    any refusal (over remaining, not captured, a file of the wrong type) comes
    back on the form, and nothing is stored. A form sent twice creates one
    refund (see `_create_once`).
    """
    order_id = (request.GET.get("order") or "").strip()
    merchant = (request.GET.get("merchant") or "").strip()
    lookup = OrderLookupForm({"order": order_id} if order_id else None)
    orders = console_orders(order_id=order_id, merchant=merchant) if order_id else []
    if order_id and not orders:
        lookup.add_error("order", f"No order with id “{order_id}”" + (f" at merchant {merchant}." if merchant else "."))
    order = orders[0] if len(orders) == 1 else None
    context = {"lookup": lookup, "order": order, "nav": "create"}
    if len(orders) > 1:
        # Order ids are unique per merchant only: the agent says whose order they mean.
        return render(request, "console/create.html", {**context, "clashes": orders})
    if order is None:
        return render(request, "console/create.html", context, status=404 if order_id else 200)

    payment = getattr(order, "payment", None)
    currency = payment.currency if payment else order.currency
    remaining = payment.remaining_refundable_minor if payment else 0
    context.update(
        captured=money(payment.amount_minor, currency) if payment else "no payment",
        remaining=money(remaining, currency),
        nothing_left=payment is not None and remaining == 0,
        payment=payment,
    )
    choices = {
        "currency": currency,
        "order_lines": list(order.lines.all()),
        "prorate_offered": bool(order.service_starts_at and order.service_ends_at)
        and policy_get_active().proration_enabled,
    }
    context["prorate_offered"] = choices["prorate_offered"]
    if request.method == "GET":
        form = CreateRefundForm(
            initial={"amount": major_input(remaining, currency), "submission": uuid.uuid4().hex},
            **choices,
        )
        return render(request, "console/create.html", {**context, "form": form})

    form = CreateRefundForm(request.POST, request.FILES, **choices)
    if not form.is_valid():
        return render(request, "console/create.html", {**context, "form": form}, status=400)
    return _create_once(request, form, order=order, currency=currency, context=context)


def _create_once(
    request: HttpRequest, form: CreateRefundForm, *, order: Order, currency: str, context: dict
) -> HttpResponse:
    """Create the refund unless this very form was already sent.

    The form's one-time token goes into the refund, unique per requester in
    the database: a resend after success finds that refund, and two copies of
    one POST racing on different web processes cannot both create — the second
    waits on the unique index and is then sent to the refund the first made.
    A refusal stores nothing, so the agent can correct the form and send it
    again with the same token.
    """
    token = form.cleaned_data.get("submission") or None
    if token and (sent := _sent_before(request, token)) is not None:
        return sent
    try:
        uploads = evidence_validate(files=form.cleaned_data["evidence"])
        how = form.cleaned_data["how"]
        refund = refund_request_with_evidence(
            order=order,
            amount_minor=form.cleaned_data["amount"] if how == HOW_AMOUNT else None,
            lines=form.line_requests if how == HOW_LINES else None,
            prorate=how == HOW_TIME,
            currency=currency,
            reason=form.cleaned_data["reason"],
            actor=acting(request),
            customer_note=form.cleaned_data["customer_note"],
            uploads=uploads,
            request_token=token,
        )
    except IntegrityError:
        sent = _sent_before(request, token) if token else None
        if sent is None:
            raise
        return sent
    except DomainError as error:
        form.add_error(_error_field(form, error), error.message)
        return render(request, "console/create.html", {**context, "form": form}, status=error.http_status)
    messages.success(
        request,
        f"Refund {refund.public_id} created: {refund.get_state_display()} by policy rule {refund.policy_rule}.",
    )
    return redirect("console:card", public_id=refund.public_id)


def _error_field(form: CreateRefundForm, error: DomainError) -> str | None:
    """Which field of the form a refusal belongs to (None: the form as a whole)."""
    field = error.details.get("field") or ""
    how = form.cleaned_data.get("how")
    if field == "evidence":
        return "evidence"
    if how == HOW_LINES and (sku := error.details.get("sku")):
        line = next((line for line in form.refundable_lines if line.sku == sku), None)
        return form.line_field(line) if line else None
    if how == HOW_TIME or field == "prorate":
        return "how"
    if how == HOW_AMOUNT and error.code in AMOUNT_ERRORS:
        return "amount"
    return None


def _sent_before(request: HttpRequest, token: str) -> HttpResponse | None:
    created = Refund.objects.filter(requested_by=request.user, request_token=token).only("public_id").first()
    if created is None:
        return None
    messages.info(request, f"This form was already sent: refund {created.public_id} exists, nothing new was created.")
    return redirect("console:card", public_id=created.public_id)
