"""Reads. Each returns what its callers render, with the joins done."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from core.databases import read_alias
from core.errors import ERR_NOT_FOUND, DomainError
from core.i18n import staff_money
from refunds.enums import DecisionKind, PolicyOutcome, Recommendation, RefundState, WebhookStatus
from refunds.models import Decision, Merchant, Order, Payment, Refund, RefundLine, WebhookEvent


def refund_queryset() -> QuerySet[Refund]:
    # store_credit: a LEFT JOIN, so a document's credit (issue 15) costs no extra query.
    return Refund.objects.select_related("order", "payment", "policy_version", "store_credit").prefetch_related(
        "ledger_entries",
        Prefetch("decisions", queryset=Decision.objects.select_related("actor")),
        Prefetch("lines", queryset=RefundLine.objects.select_related("order_line")),
    )


def refund_get(*, public_id: str, merchant: Merchant) -> Refund:
    """A refund of `merchant` (the caller's API key's): another merchant's is not found, like no refund at all."""
    refund = refund_queryset().filter(public_id=public_id, order__merchant=merchant).first()
    if refund is None:
        raise DomainError(ERR_NOT_FOUND)
    return refund


def order_get(*, order_id: str, merchant: Merchant) -> Order:
    """`merchant`'s order with this id (order ids are unique per merchant); another merchant's is not found."""
    order = Order.objects.select_related("payment", "customer").filter(order_id=order_id, merchant=merchant).first()
    if order is None:
        raise DomainError(ERR_NOT_FOUND)
    return order


def order_refunds(*, order: Order) -> QuerySet[Refund]:
    return refund_queryset().filter(order=order).order_by("created_at", "id")


def refund_documents_queryset() -> QuerySet[Refund]:
    """`refund_queryset` for rendering many refund documents at once (the API's lists).

    Besides its joins: the customer (joined) and the order's lines
    (prefetched), which a decline reason written as a template reads
    (`notifications.replies.reply_values`) — so a page of N refunds costs the
    same few queries whatever N and whatever their replies say.
    """
    return refund_queryset().select_related("order__customer").prefetch_related("order__lines")


def merchant_refunds(
    *,
    merchant: Merchant,
    state: str | None = None,
    order_id: str | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
    before_id: int | None = None,
) -> QuerySet[Refund]:
    """`merchant`'s refunds, newest first (by primary key, descending), optionally filtered; `GET /v1/refunds`.

    `before_id`: only refunds created before that one (the cursor's primary
    key; `refund_cursor_id` resolves it). Read through the refund's own copy of
    its order's merchant and the (merchant, id) and (merchant, state, id)
    indexes (refunds/0024): through the order, PostgreSQL walked every refund
    backwards to find a small merchant's few (seconds at millions of rows).
    """
    refunds = refund_documents_queryset().filter(merchant=merchant)
    if state:
        refunds = refunds.filter(state=state)
    if order_id:
        refunds = refunds.filter(order__order_id=order_id)
    if created_gte is not None:
        refunds = refunds.filter(created_at__gte=created_gte)
    if created_lt is not None:
        refunds = refunds.filter(created_at__lt=created_lt)
    if before_id is not None:
        refunds = refunds.filter(pk__lt=before_id)
    return refunds.order_by("-pk")


def refund_cursor_id(*, public_id: str, merchant: Merchant) -> int | None:
    """The primary key of `merchant`'s refund `public_id` (a list cursor); None for anyone else's or no refund."""
    return Refund.objects.filter(public_id=public_id, order__merchant=merchant).values_list("pk", flat=True).first()


def payment_get(*, provider_payment_id: str, merchant: Merchant) -> Payment:
    """`merchant`'s payment with this provider id, with its order; another merchant's is not found."""
    payment = (
        Payment.objects.select_related("order")
        .filter(provider_payment_id=provider_payment_id, order__merchant=merchant)
        .first()
    )
    if payment is None:
        raise DomainError(ERR_NOT_FOUND)
    return payment


def payment_refunds(*, payment: Payment) -> QuerySet[Refund]:
    """Every refund of `payment`, oldest first (as an order's refunds are listed)."""
    return refund_documents_queryset().filter(payment=payment).order_by("created_at", "id")


# --- the drafted reply -------------------------------------------------------------


def policy_reply(refund: Refund) -> str:
    """The reply the policy drafted, before any edit (each edit keeps the reply it replaced)."""
    edits = sorted(
        (d for d in refund.decisions.all() if d.kind == DecisionKind.EDIT), key=lambda d: (d.created_at, d.pk)
    )
    return edits[0].reply_before if edits else refund.draft_reply


def reply_declines(refund: Refund, reply: str | None = None) -> bool:
    """The reply (default: the current draft) is still the policy's decline draft.

    The approval email carries the drafted reply: sent as the policy wrote it
    for a refund it recommended declining, it would tell the customer
    "approved" and "we cannot approve it" at once. So the console makes the
    agent write the approval reply first, and an approval given elsewhere
    (the API) sends the email without the draft.
    """
    if refund.policy_outcome != PolicyOutcome.REVIEW or refund.recommendation != Recommendation.DECLINE:
        return False
    return (refund.draft_reply if reply is None else reply).strip() == policy_reply(refund).strip()


# --- waiting past the decision SLA ----------------------------------------------


def decision_sla() -> timedelta:
    """How long a requested refund may wait for a decision (REFUND_DECISION_SLA_HOURS)."""
    return timedelta(hours=settings.REFUND_DECISION_SLA_HOURS)


def decision_overdue(refund: Refund, now: datetime | None = None) -> bool:
    """Still `requested` and older than the SLA: red in the queue, listed in the weekly digest."""
    now = now or timezone.now()
    return refund.state == RefundState.REQUESTED and now - refund.created_at >= decision_sla()


def refunds_decision_overdue(now: datetime | None = None) -> QuerySet[Refund]:
    """Every refund `decision_overdue` at `now`, oldest first (the queue's order)."""
    now = now or timezone.now()
    return Refund.objects.filter(state=RefundState.REQUESTED, created_at__lte=now - decision_sla()).order_by(
        "created_at", "id"
    )


# What finance must look at: events that named nobody we know, and events held because they did not add up.
WEBHOOK_ATTENTION_STATUSES = (WebhookStatus.HELD, WebhookStatus.UNKNOWN_REFUND)


def webhook_events(*, statuses: Iterable[str] = (), provider: str = "", search: str = "") -> QuerySet[WebhookEvent]:
    """The webhook inbox, newest first, for finance: by status (any of `statuses`), provider, event or refund id.

    On the read replica when there is one (core.databases.read_alias): a list finance works through,
    where an event received a second ago showing a second later changes nothing.
    """
    events = WebhookEvent.objects.using(read_alias()).select_related("refund").order_by("-received_at", "-id")
    if statuses:
        events = events.filter(status__in=list(statuses))
    if provider:
        events = events.filter(provider=provider)
    if search:
        events = events.filter(
            Q(event_id=search) | Q(provider_refund_id=search) | Q(refund__public_id=search) | Q(note__contains=search)
        )
    return events


def approval_outcome_text(refund: Refund) -> str:
    """What the approver is told once their approval is in, wherever they gave it (console, Slack).

    Asked of the refund as the approval left it: still `requested` means one of
    several approvals was recorded.
    """
    if refund.state == RefundState.REQUESTED:
        given = refund.decisions.filter(kind=DecisionKind.APPROVE).count()
        return (
            f"Your approval is recorded ({given} of {refund.approvals_required}). "
            "A different senior agent must give the next one."
        )
    return f"Approved {staff_money(refund.amount_minor, refund.currency)}. The customer gets the drafted reply."
