"""Refunds by line (issue 15): which units of which order lines a refund takes back, and what they are worth.

Addressing: a requested line names the order line by its `sku`. Lines
without a sku, and a sku that appears on several lines of one order, cannot
be addressed (ERR_VALIDATION naming the request's line): such orders are
refunded by amount. `line_no` is not offered as a second key — it is our
numbering of the pushed lines, which the merchant's system never sees.

Locking: the caller (`refund_request`) holds the payment's row lock, and
every writer of an order line holds it too — `refund_open` and
`refund_transition` (through `refund_lock`) reserve and release units under
it, and `order_upsert` locks the payment before it replaces an order's lines
(which it does only while the order has no refund). So the lines are read
here without FOR UPDATE; the CHECK `orderline_refunded_within_quantity` is
what refuses an over-reservation should a path ever skip that lock.

Money: a line's gross (net − discount + tax) is split over its units
cumulatively, `share(k) = gross·k // quantity` for the first k units, so no
unit is ever worth a rounding more than another and the shares of all units
sum to the gross exactly. A refund taking q units of a line whose active
refunds hold a units worth S gets `share(a + q) − S` (never below 0): while
refunds are only added, S = share(a) and this is the plain share of units
[a, a + q); after a cancellation it settles the rounding the canceled refund
took, so the active refunds of a line never sum above its gross and the one
that takes its last unit makes them sum to the gross. Tax alike, within the
amount.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, Sum

from core.errors import ERR_EXCEEDS_REMAINING, ERR_VALIDATION, DomainError
from refunds.enums import ACTIVE_STATES
from refunds.models import Order, OrderLine, RefundLine

# A request names each of its lines; more than an order may sensibly hold is malformed, not big.
MAX_LINES = 500


@dataclass(frozen=True)
class LineRequest:
    """One requested line: the order line's sku and how many of its units to refund."""

    sku: str
    quantity: int


def cumulative_share(total_minor: int, *, units: int, upto: int) -> int:
    """What the first `upto` of `units` units are worth of `total_minor`, rounded down."""
    return total_minor * upto // units


def line_share(*, total_minor: int, units: int, taken_units: int, taken_minor: int, quantity: int) -> int:
    """What `quantity` more units are worth, when active refunds hold `taken_units` worth `taken_minor`."""
    return max(cumulative_share(total_minor, units=units, upto=taken_units + quantity) - taken_minor, 0)


def refund_lines_build(*, order: Order, requested: list[LineRequest]) -> list[RefundLine]:
    """The refund lines (unsaved, without their refund) for `requested` units of `order`'s lines.

    The caller holds the order's payment lock (see the module docstring).
    Raises ERR_VALIDATION (no line, a duplicate or unknown sku, a quantity
    that is not a positive integer; `field` names the request's line) and
    ERR_EXCEEDS_REMAINING (details: `sku`, `quantity_left`) for more units
    than active refunds leave. The amounts sum to the refund's amount.
    """
    _requested_check(requested)
    lines = list(
        OrderLine.objects.filter(order=order).annotate(
            taken_minor=Sum("refund_lines__amount_minor", filter=Q(refund_lines__refund__state__in=ACTIVE_STATES)),
            taken_tax_minor=Sum("refund_lines__tax_minor", filter=Q(refund_lines__refund__state__in=ACTIVE_STATES)),
        )
    )
    by_sku: dict[str, list[OrderLine]] = {}
    for line in lines:
        if line.sku:
            by_sku.setdefault(line.sku, []).append(line)
    built = []
    for index, wanted in enumerate(requested):
        field = f"lines[{index}].sku"
        matches = by_sku.get(wanted.sku, [])
        if not matches:
            raise DomainError(ERR_VALIDATION, f"The order has no line with sku '{wanted.sku}'.", field=field)
        if len(matches) > 1:
            raise DomainError(
                ERR_VALIDATION, f"Several lines of the order have sku '{wanted.sku}': refund by amount.", field=field
            )
        line = matches[0]
        left = line.quantity - line.refunded_quantity
        if wanted.quantity > left:
            raise DomainError(
                ERR_EXCEEDS_REMAINING,
                f"Only {left} of sku '{wanted.sku}' can still be refunded.",
                field=f"lines[{index}].quantity",
                sku=wanted.sku,
                quantity_left=left,
            )
        built.append(_refund_line(line, wanted.quantity))
    return built


def _refund_line(line: OrderLine, quantity: int) -> RefundLine:
    amount = line_share(
        total_minor=line.gross_minor,
        units=line.quantity,
        taken_units=line.refunded_quantity,
        taken_minor=line.taken_minor or 0,
        quantity=quantity,
    )
    tax = line_share(
        total_minor=line.tax_minor,
        units=line.quantity,
        taken_units=line.refunded_quantity,
        taken_minor=line.taken_tax_minor or 0,
        quantity=quantity,
    )
    return RefundLine(order_line=line, quantity=quantity, amount_minor=amount, tax_minor=min(tax, amount))


def _requested_check(requested: list[LineRequest]) -> None:
    if not requested:
        raise DomainError(ERR_VALIDATION, "Name at least one line to refund.", field="lines")
    if len(requested) > MAX_LINES:
        raise DomainError(ERR_VALIDATION, f"At most {MAX_LINES} lines per refund.", field="lines")
    seen: set[str] = set()
    for index, wanted in enumerate(requested):
        if not isinstance(wanted.sku, str) or not wanted.sku:
            raise DomainError(ERR_VALIDATION, "Each line names the sku of an order line.", field=f"lines[{index}].sku")
        if wanted.sku in seen:
            message = f"Sku '{wanted.sku}' is named twice: give its quantity once."
            raise DomainError(ERR_VALIDATION, message, field=f"lines[{index}].sku")
        seen.add(wanted.sku)
        quantity = wanted.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise DomainError(
                ERR_VALIDATION, "A line's quantity is a whole number above 0.", field=f"lines[{index}].quantity"
            )


def refund_has_lines(refund_id: int) -> bool:
    return RefundLine.objects.filter(refund_id=refund_id).exists()
