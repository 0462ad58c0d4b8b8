"""The review queue: which refunds, filtered how, and each row as the table shows it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from console.presenters.formatting import money
from core.databases import read_alias
from core.money import CURRENCY_EXPONENTS
from refunds.enums import DecisionKind, RefundState
from refunds.models import Customer, Merchant, Order, Payment, Refund
from refunds.selectors import decision_overdue

VIEW_WAITING = "waiting"
VIEW_OVERRIDES = "overrides"
VIEW_ALL = "all"


@dataclass(frozen=True)
class QueueFilters:
    view: str = VIEW_WAITING
    state: str = ""
    reason: str = ""
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    second_approval: bool = False
    flagged: bool = False
    q: str = ""
    merchant: str = ""  # a merchant's slug; empty: every merchant
    assignee_id: int | None = None  # "Assigned to me": the signed-in user's id
    sort: str = ""  # a key of SORTS, "-" first for descending; empty: oldest first

    @property
    def narrowed(self) -> bool:
        """Whether anything besides the tab narrows the list (an empty page then says filters hide refunds)."""
        return bool(
            self.state
            or self.reason
            or self.amount_min is not None
            or self.amount_max is not None
            or self.second_approval
            or self.flagged
            or self.q.strip()
            or self.merchant
            or self.assignee_id
        )


# The queue's sortable columns (an allow-list: a query string names a key, never a field). Every
# order ends with the age and the id, so equal values keep one stable order across pages and refreshes.
# Amounts of different currencies are not comparable: they sort by currency, then amount.
SORTS: dict[str, tuple[str, ...]] = {
    "age": ("created_at",),
    "order": ("order__order_id",),
    "customer": ("order__customer__name", "order__customer__email"),
    "reason": ("reason",),
    "amount": ("currency", "amount_minor"),
    "state": ("state",),
}
DEFAULT_SORT = "age"


def sort_key(value: str) -> str:
    """The sort asked for if it is one of SORTS (with or without "-"), else the default."""
    return value if value.removeprefix("-") in SORTS else DEFAULT_SORT


def sort_order(value: str) -> list[str]:
    key = sort_key(value)
    descending = key.startswith("-")
    fields = [*SORTS[key.removeprefix("-")], "created_at", "id"]
    return [f"-{field}" if descending else field for field in dict.fromkeys(fields)]


def _currencies_by_exponent() -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = defaultdict(list)
    for currency, exp in CURRENCY_EXPONENTS.items():
        grouped[exp].append(currency)
    return grouped


def _amount_bound(lookup: str, value: Decimal) -> Q:
    """`amount_minor` compared with a major-unit bound, in each refund's own currency.

    The queue mixes currencies, so "from 50" means 5000 cents, 50 yen and
    50000 fils: one condition per minor-unit exponent, rounded so the bound
    stays inclusive.
    """
    condition = Q()
    rounding = ROUND_CEILING if lookup == "gte" else ROUND_FLOOR
    for exp, currencies in _currencies_by_exponent().items():
        bound = int(value.scaleb(exp).to_integral_value(rounding=rounding))
        condition |= Q(currency__in=currencies, **{f"amount_minor__{lookup}": bound})
    return condition


def _search(term: str) -> Q:
    """Any part of the customer's name or email, the order id, the provider's payment id or the refund id.

    Case-insensitive. Each column has a trigram index on its upper case
    (migration refunds/0019), and each table is searched in its own subquery
    so PostgreSQL can use those indexes: one OR across joined tables would
    make it scan them.
    """
    customers = Customer.objects.filter(Q(name__icontains=term) | Q(email__icontains=term)).values("pk")
    orders = Order.objects.filter(order_id__icontains=term).values("pk")
    payments = Payment.objects.filter(provider_payment_id__icontains=term).values("pk")
    return (
        Q(order__customer__in=customers) | Q(order__in=orders) | Q(payment__in=payments) | Q(public_id__icontains=term)
    )


def console_queue(*, filters: QueueFilters) -> QuerySet[Refund]:
    """Refunds for the queue, oldest first (the longest wait is worked first) unless another sort is asked.

    Read on the replica when there is one (core.databases.read_alias): the queue refreshes itself, and
    every decision taken from a row re-reads the refund under its lock on the primary.
    """
    refunds = (
        Refund.objects.using(read_alias())
        .select_related("order", "order__customer", "order__merchant", "assignee")
        .annotate(approvals_given=Count("decisions", filter=Q(decisions__kind=DecisionKind.APPROVE)))
    )
    if filters.view == VIEW_WAITING and not filters.state:
        # An explicit state filter wins: asking for "denied" should show denied refunds.
        refunds = refunds.filter(state=RefundState.REQUESTED)
    elif filters.view == VIEW_OVERRIDES:
        refunds = refunds.filter(override_flagged=True)
    if filters.state:
        refunds = refunds.filter(state=filters.state)
    if filters.merchant:
        refunds = refunds.filter(order__merchant__slug=filters.merchant)
    if filters.reason:
        refunds = refunds.filter(reason=filters.reason)
    if filters.amount_min is not None:
        refunds = refunds.filter(_amount_bound("gte", filters.amount_min))
    if filters.amount_max is not None:
        refunds = refunds.filter(_amount_bound("lte", filters.amount_max))
    if filters.second_approval:
        # Still waiting for a senior: a dual-control refund that has moved on needs nobody.
        refunds = refunds.filter(
            state=RefundState.REQUESTED, approvals_required=2, approvals_given__lt=F("approvals_required")
        )
    if filters.flagged:
        refunds = refunds.filter(override_flagged=True)
    if filters.assignee_id:
        refunds = refunds.filter(assignee_id=filters.assignee_id)
    term = filters.q.strip()
    if term:
        refunds = refunds.filter(_search(term))
    return refunds.order_by(*sort_order(filters.sort))


def console_queue_counts(*, merchant: str = "") -> dict[str, int]:
    """Numbers on the queue's tabs, for one merchant (its slug) when the queue is filtered to it."""
    refunds = Refund.objects.using(read_alias())
    refunds = refunds.filter(order__merchant__slug=merchant) if merchant else refunds
    return {
        VIEW_WAITING: refunds.filter(state=RefundState.REQUESTED).count(),
        VIEW_OVERRIDES: refunds.filter(override_flagged=True).count(),
    }


def merchant_choices() -> list[tuple[str, str]]:
    """Every merchant as (slug, name) for a filter; staff see them all."""
    return [
        (merchant.slug, str(merchant)) for merchant in Merchant.objects.using(read_alias()).order_by("name", "slug")
    ]


def sort_links(current: str) -> dict[str, dict[str, str]]:
    """Per sortable column: the sort its header link asks for (the other direction when it is the current
    one) and its `aria-sort` ("ascending", "descending" or "none")."""
    key = sort_key(current)
    links = {}
    for column in SORTS:
        if key.removeprefix("-") == column:
            descending = key.startswith("-")
            links[column] = {
                "sort": column if descending else f"-{column}",
                "aria": "descending" if descending else "ascending",
            }
        else:
            links[column] = {"sort": column, "aria": "none"}
    return links


def age_label(since: datetime, now: datetime | None = None) -> str:
    """Compact age for a table cell: 45 min, 3 h, 2 d."""
    minutes = max(int(((now or timezone.now()) - since).total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


@dataclass(frozen=True)
class QueueRow:
    refund: Refund
    amount: str
    age: str
    overdue: bool
    approvals_given: int
    viewers: tuple[str, ...] = ()  # who else has its card open (console.presence)


def queue_rows(
    refunds: Iterable[Refund], now: datetime | None = None, viewers: dict[str, list[str]] | None = None
) -> list[QueueRow]:
    now = now or timezone.now()
    viewers = viewers or {}
    return [
        QueueRow(
            refund=refund,
            amount=money(refund.amount_minor, refund.currency),
            age=age_label(refund.created_at, now),
            # Waiting past the decision SLA (a day by default): the weekly digest lists the same refunds.
            overdue=decision_overdue(refund, now),
            approvals_given=getattr(refund, "approvals_given", 0),
            viewers=tuple(viewers.get(refund.public_id, ())),
        )
        for refund in refunds
    ]


def next_waiting_refund(*, after: Refund) -> Refund | None:
    """The next refund in queue order after this one, for "next" on the card."""
    return (
        Refund.objects.filter(state=RefundState.REQUESTED)
        .filter(Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, id__gt=after.id))
        .exclude(pk=after.pk)
        .order_by("created_at", "id")
        .first()
    )
