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
from core.money import CURRENCY_EXPONENTS
from refunds.enums import DecisionKind, RefundState
from refunds.models import Merchant, Refund

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
    """Order id (part of it), refund id (exact or its start), customer email.

    An email matches from its start ("mara" finds mara@example.org); a term
    with an @ matches anywhere in it, so "@example.org" finds a whole domain.
    """
    condition = Q(order__order_id__icontains=term) | Q(public_id__iexact=term)
    if term.lower().startswith("rf_"):
        condition |= Q(public_id__istartswith=term)
    if "@" in term:
        condition |= Q(order__customer__email__icontains=term)
    else:
        condition |= Q(order__customer__email__istartswith=term)
    return condition


def console_queue(*, filters: QueueFilters) -> QuerySet[Refund]:
    """Refunds for the queue, oldest first (the longest wait is worked first)."""
    refunds = Refund.objects.select_related("order", "order__customer", "order__merchant").annotate(
        approvals_given=Count("decisions", filter=Q(decisions__kind=DecisionKind.APPROVE))
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
    term = filters.q.strip()
    if term:
        refunds = refunds.filter(_search(term))
    return refunds.order_by("created_at", "id")


def console_queue_counts(*, merchant: str = "") -> dict[str, int]:
    """Numbers on the queue's tabs, for one merchant (its slug) when the queue is filtered to it."""
    refunds = Refund.objects.filter(order__merchant__slug=merchant) if merchant else Refund.objects.all()
    return {
        VIEW_WAITING: refunds.filter(state=RefundState.REQUESTED).count(),
        VIEW_OVERRIDES: refunds.filter(override_flagged=True).count(),
    }


def merchant_choices() -> list[tuple[str, str]]:
    """Every merchant as (slug, name) for a filter; staff see them all."""
    return [(merchant.slug, str(merchant)) for merchant in Merchant.objects.order_by("name", "slug")]


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


def queue_rows(refunds: Iterable[Refund], now: datetime | None = None) -> list[QueueRow]:
    now = now or timezone.now()
    return [
        QueueRow(
            refund=refund,
            amount=money(refund.amount_minor, refund.currency),
            age=age_label(refund.created_at, now),
            # A day without a decision is what the customer email promised at most.
            overdue=refund.state == RefundState.REQUESTED and (now - refund.created_at).days >= 1,
            approvals_given=getattr(refund, "approvals_given", 0),
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
