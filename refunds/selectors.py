"""Reads. Each returns what its callers render, with the joins done."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from core.errors import ERR_NOT_FOUND, DomainError
from core.i18n import staff_money
from refunds.enums import DecisionKind, PolicyOutcome, Recommendation, RefundState, WebhookStatus
from refunds.models import Decision, Merchant, Order, Refund, WebhookEvent


def refund_queryset() -> QuerySet[Refund]:
    return Refund.objects.select_related("order", "payment", "policy_version").prefetch_related(
        "ledger_entries",
        Prefetch("decisions", queryset=Decision.objects.select_related("actor")),
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
    """The webhook inbox, newest first, for finance: by status (any of `statuses`), provider, event or refund id."""
    events = WebhookEvent.objects.select_related("refund").order_by("-received_at", "-id")
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
