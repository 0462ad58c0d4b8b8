"""Creating a refund on a customer's behalf: same services and policy as the API."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from refunds.errors import ERR_AMOUNT_RANGE, ERR_CURRENCY_MISMATCH, ERR_EXCEEDS_REMAINING, DomainError
from refunds.forms import CreateRefundForm, OrderLookupForm
from refunds.money import format_plain
from refunds.selectors_console import console_order, major_input
from refunds.services.evidence import evidence_validate, refund_request_with_evidence
from refunds.views.console.common import PERM_REQUEST, acting, console_permission

AMOUNT_ERRORS = {ERR_AMOUNT_RANGE, ERR_EXCEEDS_REMAINING, ERR_CURRENCY_MISMATCH}


@require_http_methods(["GET", "POST"])
@console_permission(PERM_REQUEST)
def create(request: HttpRequest) -> HttpResponse:
    """Pick an order (`?order=`), then amount, reason, note and evidence.

    The order is chosen with a GET form so the page works without
    JavaScript; the amount defaults to what is left to refund. The refund and
    its evidence files are created together by `refund_request_with_evidence`;
    any refusal (over remaining, not captured, a file of the wrong type) comes
    back on the form, and nothing is stored.
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
        payment=payment,
    )
    if request.method == "GET":
        form = CreateRefundForm(currency=currency, initial={"amount": major_input(remaining, currency)})
        return render(request, "console/create.html", {**context, "form": form})

    form = CreateRefundForm(request.POST, request.FILES, currency=currency)
    if not form.is_valid():
        return render(request, "console/create.html", {**context, "form": form}, status=400)
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
        field = error.details.get("field")
        if field == "evidence":
            form.add_error("evidence", error.message)
        elif error.code in AMOUNT_ERRORS:
            form.add_error("amount", error.message)
        else:
            form.add_error(None, error.message)
        return render(request, "console/create.html", {**context, "form": form}, status=error.http_status)
    messages.success(
        request,
        f"Refund {refund.public_id} created: {refund.get_state_display()} by policy rule {refund.policy_rule}.",
    )
    return redirect("console:card", public_id=refund.public_id)
