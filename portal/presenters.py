"""What the order page shows a customer: each line with what is left to refund, and which choices they have."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, Sum
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.i18n import babel_locale, format_amount
from refunds.enums import ACTIVE_STATES, PaymentStatus, Reason
from refunds.models import Order, OrderLine, RefundPolicy

# The taxonomy in the customer's words; goodwill is the merchant's gesture, never the customer's to pick.
REASON_LABELS: dict[str, Promise] = {
    Reason.NOT_RECEIVED: _("I did not receive it"),
    Reason.QUALITY: _("It is damaged or not as described"),
    Reason.DUPLICATE: _("I was charged twice"),
    Reason.PRICING_ERROR: _("I was charged the wrong price"),
    Reason.OTHER: _("Something else (for example, I cancelled)"),
}

# Payments the portal cannot refund: not taken yet, or the money is already back.
_CLOSED = {
    PaymentStatus.CAPTURE_PENDING,
    PaymentStatus.CAPTURE_FAILED,
    PaymentStatus.CHARGED_BACK,
    PaymentStatus.VOIDED,
}


@dataclass(frozen=True)
class LineView:
    line_no: int
    sku: str
    description: str
    quantity: int
    left: int
    unit_amount: str
    left_amount: str

    @property
    def field(self) -> str:
        return f"qty_{self.line_no}"


@dataclass(frozen=True)
class OrderView:
    order_id: str
    merchant: str
    state: str  # open | hold | nothing_left | closed
    lines: list[LineView]
    remaining: str
    remaining_minor: int
    currency: str
    prorate_offered: bool
    store_credit_offered: bool
    evidence_reasons: list[str]


def order_view(*, order: Order, policy: RefundPolicy, language: str) -> OrderView:
    """Lines with units left (quantity less `refunded_quantity`) and their share of the line's total, tax included."""
    payment = getattr(order, "payment", None)
    currency = payment.currency if payment is not None else order.currency
    locale = babel_locale(language, order.customer.locale or "")
    rows = list(
        OrderLine.objects.filter(order=order).annotate(
            taken_minor=Sum("refund_lines__amount_minor", filter=Q(refund_lines__refund__state__in=ACTIVE_STATES))
        )
    )
    skus = [line.sku for line in rows]
    lines = []
    for line in rows:
        # Only a line its sku names alone can be asked for by line (refunds.services.lines).
        addressable = bool(line.sku) and skus.count(line.sku) == 1
        left = max(line.quantity - line.refunded_quantity, 0) if addressable else 0
        # What the units left are worth together: the line's total less what active refunds of it hold
        # (refunds.services.lines splits a line's total over its units the same way).
        left_minor = max(line.gross_minor - (line.taken_minor or 0), 0) if left else 0
        unit_minor = line.gross_minor // line.quantity if line.quantity else 0
        lines.append(
            LineView(
                line_no=line.line_no,
                sku=line.sku,
                description=line.description or line.sku,
                quantity=line.quantity,
                left=left,
                unit_amount=format_amount(unit_minor, currency, locale),
                left_amount=format_amount(left_minor, currency, locale),
            )
        )
    remaining_minor = payment.remaining_refundable_minor if payment is not None else 0
    prorate = bool(policy.proration_enabled and order.service_starts_at and order.service_ends_at)
    if payment is None or payment.status in _CLOSED:
        state = "closed"
    elif remaining_minor <= 0:
        state = "nothing_left"
    elif payment.status == PaymentStatus.AUTHORIZED:
        state = "hold"
    elif not prorate and not any(line.left for line in lines):
        # Money is left but no line can be named (no sku, or one sku on several lines): staff refund it by amount.
        unaddressable = any(
            line.quantity > line.refunded_quantity for line in rows if skus.count(line.sku) != 1 or not line.sku
        )
        state = "closed" if unaddressable else "nothing_left"
    else:
        state = "open"
    return OrderView(
        order_id=order.order_id,
        merchant=str(order.merchant),
        state=state,
        lines=lines,
        remaining=format_amount(remaining_minor, currency, locale),
        remaining_minor=remaining_minor,
        currency=currency,
        prorate_offered=prorate and state == "open",
        store_credit_offered=bool(policy.store_credit_enabled) and state == "open",
        evidence_reasons=list(policy.evidence_required_reasons or []),
    )
