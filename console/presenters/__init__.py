"""Reads for the agent console: the review queue, the refund card and the timeline.

Each function returns what a template renders (amounts already formatted in
the refund's currency), with the joins done, so templates stay free of logic
and queries. State never changes here.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.money import CURRENCY_EXPONENTS, format_plain, minor_to_major
from ledger.models import JournalEntry, Posting
from providers.base import WebhookRejected
from providers.registry import UnknownProvider, get_provider
from refunds.enums import ACTIVE_STATES, DecisionKind, PolicyOutcome, Recommendation, RefundState
from refunds.models import Decision, Order, OrderLine, OutboxMessage, Refund, WebhookEvent
from refunds.permissions import ApprovalRefusal, Perm, approval_refusal, edit_refusal, has_perm
from refunds.selectors import policy_reply, reply_declines

VIEW_WAITING = "waiting"
VIEW_OVERRIDES = "overrides"
VIEW_ALL = "all"


# --- queue --------------------------------------------------------------------


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
    refunds = Refund.objects.select_related("order", "order__customer").annotate(
        approvals_given=Count("decisions", filter=Q(decisions__kind=DecisionKind.APPROVE))
    )
    if filters.view == VIEW_WAITING and not filters.state:
        # An explicit state filter wins: asking for "denied" should show denied refunds.
        refunds = refunds.filter(state=RefundState.REQUESTED)
    elif filters.view == VIEW_OVERRIDES:
        refunds = refunds.filter(override_flagged=True)
    if filters.state:
        refunds = refunds.filter(state=filters.state)
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


def console_queue_counts() -> dict[str, int]:
    """Numbers on the queue's tabs."""
    return {
        VIEW_WAITING: Refund.objects.filter(state=RefundState.REQUESTED).count(),
        VIEW_OVERRIDES: Refund.objects.filter(override_flagged=True).count(),
    }


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
            amount=format_plain(refund.amount_minor, refund.currency),
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


# --- card ---------------------------------------------------------------------


def console_refund(*, public_id: str) -> Refund | None:
    return (
        Refund.objects.select_related("order", "order__customer", "payment", "policy_version", "requested_by")
        .prefetch_related(
            Prefetch("decisions", queryset=Decision.objects.select_related("actor")),
            Prefetch("order__lines", queryset=OrderLine.objects.order_by("line_no")),
            "evidence_files",
        )
        .filter(public_id=public_id)
        .first()
    )


def major_input(amount_minor: int, currency: str) -> str:
    """An amount as typed into a form: `45.00` for USD, `1200` for JPY."""
    exp = CURRENCY_EXPONENTS.get(currency, 2)
    return f"{minor_to_major(amount_minor, currency):.{exp}f}"


@dataclass(frozen=True)
class CardLine:
    description: str
    sku: str
    quantity: int
    tax: str
    total: str


@dataclass(frozen=True)
class RefundCard:
    """The approval card: the refund, what it is measured against, and what this user may do."""

    refund: Refund
    amount: str
    captured: str
    remaining: str
    # What an edit may set the amount to: the payment's remaining plus what this refund already holds.
    available: str
    lines: list[CardLine]
    approvals: list[Decision]
    edits: list[Decision]
    evidence_refs: list[str]
    is_open: bool
    can_decide: bool
    can_approve: bool
    can_edit: bool
    approve_blocker: str
    approve_is_override: bool
    decline_is_override: bool
    # The draft is still the policy's decline reply: approving needs an approval reply first
    # (refunds.selectors.reply_declines).
    reply_declines: bool
    # The reply the policy drafted, before any edit (edits keep what they replaced).
    original_reply: str = ""

    @property
    def needs_two(self) -> bool:
        return self.refund.approvals_required > 1

    @property
    def approvals_given(self) -> int:
        return len(self.approvals)


# How the console says each approval refusal to the person at the card, before they try.
APPROVAL_BLOCKERS: dict[ApprovalRefusal, str] = {
    ApprovalRefusal.MAKER: "You requested this refund, so someone else must approve it (maker-checker).",
    ApprovalRefusal.ROLE: "Your role cannot approve refunds.",
    ApprovalRefusal.NOT_SENIOR: "This goodwill refund needs two senior agents; ask a senior to approve it.",
    ApprovalRefusal.ALREADY_APPROVED: (
        "You gave an approval already; a different senior agent must give the second one."
    ),
}


def refund_card(*, refund: Refund, user) -> RefundCard:
    currency = refund.currency
    payment = refund.payment
    decisions = list(refund.decisions.all())
    approvals = [d for d in decisions if d.kind == DecisionKind.APPROVE]
    is_open = refund.state == RefundState.REQUESTED
    refusal = approval_refusal(refund, user, approver_ids={d.actor_id for d in approvals})
    blocker = APPROVAL_BLOCKERS[refusal] if refusal is not None else ""
    held = refund.amount_minor if refund.state in ACTIVE_STATES else 0
    available = payment.remaining_refundable_minor + held
    file_names = {f.original_name for f in refund.evidence_files.all()}
    reviewed = refund.policy_outcome == PolicyOutcome.REVIEW
    edits = [d for d in decisions if d.kind == DecisionKind.EDIT]
    return RefundCard(
        refund=refund,
        amount=format_plain(refund.amount_minor, currency),
        captured=format_plain(payment.amount_minor, currency),
        remaining=format_plain(payment.remaining_refundable_minor, currency),
        available=format_plain(available, currency),
        lines=[
            CardLine(
                description=line.description,
                sku=line.sku,
                quantity=line.quantity,
                tax=format_plain(line.tax_minor, currency),
                total=format_plain(line.gross_minor, currency),
            )
            for line in refund.order.lines.all()
        ],
        approvals=approvals,
        edits=edits,
        evidence_refs=[str(ref) for ref in refund.evidence if str(ref) not in file_names],
        is_open=is_open,
        can_decide=has_perm(user, Perm.DECIDE),
        can_approve=is_open and refusal is None,
        can_edit=edit_refusal(refund, user, approvals_given=len(approvals)) is None,
        approve_blocker=blocker if is_open else "",
        approve_is_override=reviewed and refund.recommendation == Recommendation.DECLINE,
        decline_is_override=reviewed and refund.recommendation == Recommendation.APPROVE,
        reply_declines=reply_declines(refund),
        original_reply=policy_reply(refund),
    )


def console_order(*, order_id: str) -> Order | None:
    return (
        Order.objects.select_related("customer", "payment")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("line_no")))
        .filter(order_id=order_id.strip())
        .first()
    )


# --- timeline -----------------------------------------------------------------

KIND_AUDIT = "audit"
KIND_LEDGER = "ledger"
KIND_PROVIDER = "provider"
KIND_WEBHOOK = "webhook"
KIND_EMAIL = "email"

A = AuditAction
_TITLES: dict[str, str] = {
    A.REFUND_REQUESTED: "Refund requested",
    A.REFUND_APPROVED: "Approved",
    A.REFUND_APPROVAL_RECORDED: "Approval recorded",
    A.REFUND_EDITED: "Draft or amount edited",
    A.REFUND_DENIED: "Declined",
    A.REFUND_CANCELED: "Canceled",
    A.REFUND_EVIDENCE_ATTACHED: "Evidence attached",
    A.NOTIFICATION_SENT: "Email sent to the customer",
    A.NOTIFICATION_FAILED: "Email to the customer failed",
    A.NOTIFICATION_SKIPPED: "No email sent (no address on file)",
    A.REFUND_SUBMITTED: "Submitted to the provider",
    A.REFUND_RETRY_SUBMITTED: "Submitted to the provider again (retry)",
    A.REFUND_PROVIDER_PENDING: "Provider answered: pending",
    A.REFUND_COMPLETED: "Completed: the provider confirmed the refund",
    A.REFUND_FAILED: "Failed at the provider",
    A.REFUND_PAYOUT_PAID: "Manual payout marked paid",
    A.OUTBOX_DEAD_LETTERED: "Dead letter recorded for finance",
    A.OUTBOX_REPLAYED: "Dead letter replayed",
    A.WEBHOOK_RECEIVED: "Webhook received",
}
_EMAIL_ACTIONS = frozenset({A.NOTIFICATION_SENT, A.NOTIFICATION_FAILED, A.NOTIFICATION_SKIPPED})
_PROVIDER_ACTIONS = frozenset(
    {
        A.REFUND_SUBMITTED,
        A.REFUND_RETRY_SUBMITTED,
        A.REFUND_PROVIDER_PENDING,
        A.REFUND_COMPLETED,
        A.REFUND_FAILED,
        A.REFUND_PAYOUT_PAID,
        A.OUTBOX_DEAD_LETTERED,
        A.OUTBOX_REPLAYED,
        A.WEBHOOK_RECEIVED,
    }
)
# Snapshot keys worth showing as "before → after", in reading order.
_CHANGE_KEYS = ["state", "amount_minor", "approvals_required", "draft_reply", "provider_refund_id"]


@dataclass
class TimelineItem:
    at: datetime
    kind: str
    title: str
    who: str = ""
    rule: str = ""
    note: str = ""
    flagged: bool = False
    details: list[tuple[str, str]] = field(default_factory=list)
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    # Within one transaction: causes (-1) before the audit events (0) before their effects (1).
    phase: int = 1
    # Tie-break for items in the same instant and phase: the audit trail's insertion order first.
    sort_key: tuple = ()


def _audit_kind(action: str) -> str:
    if action in _EMAIL_ACTIONS:
        return KIND_EMAIL
    if action in _PROVIDER_ACTIONS:
        return KIND_PROVIDER
    return KIND_AUDIT


def _shown(key: str, value, currency: str) -> str:
    if value is None or value == "":
        return "—"
    if key == "amount_minor" and isinstance(value, int) and currency in CURRENCY_EXPONENTS:
        return format_plain(value, currency)
    return str(value)


def _changes(before: dict | None, after: dict | None, currency: str) -> list[tuple[str, str, str]]:
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    return [
        (
            key.replace("_minor", "").replace("_", " "),
            _shown(key, before.get(key), currency),
            _shown(key, after[key], currency),
        )
        for key in _CHANGE_KEYS
        if key in after and before.get(key) != after.get(key)
    ]


def _audit_items(refund: Refund) -> list[TimelineItem]:
    items = []
    for event in AuditEvent.objects.filter(refund=refund).order_by("id"):
        details = []
        if event.amount_minor is not None and event.currency:
            details.append(("Amount", format_plain(event.amount_minor, event.currency)))
        if event.correlation_id:
            details.append(("Correlation id", event.correlation_id))
        items.append(
            TimelineItem(
                at=event.occurred_at,
                kind=_audit_kind(event.action),
                title=_TITLES.get(event.action, event.action.replace(".", " ").replace("_", " ").capitalize()),
                who=event.actor_label,
                rule=event.policy_rule,
                note=event.note,
                flagged=event.flagged,
                details=details,
                changes=_changes(event.before, event.after, refund.currency),
                phase=0,
                sort_key=(0, event.pk),
            )
        )
    return items


def _posting(posting: Posting) -> tuple[str, str]:
    side = "debit" if posting.amount_minor > 0 else "credit"
    return posting.account_id, f"{side} {format_plain(abs(posting.amount_minor), posting.currency)}"


def _ledger_items(refund: Refund) -> list[TimelineItem]:
    entries = JournalEntry.objects.filter(refund=refund).prefetch_related(
        Prefetch("postings", queryset=Posting.objects.order_by("id"))
    )
    return [
        TimelineItem(
            at=entry.created_at,
            kind=KIND_LEDGER,
            title=f"Ledger entry {entry.entry_type}",
            who="system",
            note=entry.memo,
            details=[_posting(posting) for posting in entry.postings.all()],
            sort_key=(1, entry.pk),
        )
        for entry in entries
    ]


def _outbox_items(refund: Refund) -> list[TimelineItem]:
    """Provider submissions: queued, delivered, dead-lettered."""
    items = []
    for message in OutboxMessage.objects.filter(refund=refund).order_by("created_at", "id"):
        details = [("Idempotency key", message.idempotency_key), ("Status", message.status)]
        if message.attempts:
            details.append(("Attempts", str(message.attempts)))
        if message.last_error:
            details.append(("Last error", message.last_error))
        steps = [
            (message.created_at, "Queued for the provider", details, ""),
            (message.delivered_at, "Delivered to the provider", [], ""),
            (message.dead_at, "Dead-lettered after the last retry", [], message.last_error),
        ]
        items += [
            TimelineItem(
                at,
                KIND_PROVIDER,
                title,
                "system",
                note=note,
                details=info,
                flagged=step == 2,
                sort_key=(2, message.pk, step),
            )
            for step, (at, title, info, note) in enumerate(steps)
            if at is not None
        ]
    return items


def _provider_status(payload: dict, provider: str) -> str:
    """The provider's own word for the refund's state in a stored webhook event ("" if it says none)."""
    try:
        return get_provider(provider).parse_event(payload).provider_status
    except (WebhookRejected, UnknownProvider):
        return ""


def _webhook_items(refund: Refund) -> list[TimelineItem]:
    items = []
    for event in WebhookEvent.objects.filter(refund=refund).order_by("received_at", "id"):
        details = [("Event id", event.event_id), ("Inbox status", event.get_status_display())]
        status = _provider_status(event.payload, event.provider)
        if status:
            details.insert(0, ("Provider status", status))
        if event.replay_count:
            details.append(("Replays ignored", str(event.replay_count)))
        items.append(
            TimelineItem(
                event.received_at,
                KIND_WEBHOOK,
                f"Provider webhook {event.event_type}",
                "payment provider",
                note=event.note,
                details=details,
                phase=-1,
                sort_key=(3, event.pk),
            )
        )
    return items


# A refund's move is audited with the time it began (refunds.services.transition), and everything it
# writes — ledger entry, outbox message — follows within the same transaction; a webhook that
# caused a move was stored just before it. Records this close to an audit event belong with it.
SAME_TRANSACTION = timedelta(seconds=2)


def console_timeline(*, refund: Refund) -> list[TimelineItem]:
    """Everything that happened to a refund, in order: "why did we refund this?".

    Audit events (who, which rule, before/after; emails are audit events too),
    ledger entries with their postings, provider submissions from the outbox
    and provider webhooks. Ordered by time, except that a record written with
    audit events is placed with them: an effect (ledger entry, outbox row)
    right after the latest event at or before it, a cause (the webhook that
    completed the refund) right before the first event at or after it — their
    clock times alone could interleave with the next change's.
    """
    audit = _audit_items(refund)
    others = _ledger_items(refund) + _outbox_items(refund) + _webhook_items(refund)
    audit_times = sorted({item.at for item in audit})

    def anchored(item: TimelineItem) -> datetime:
        if item.phase < 0:
            index = bisect_left(audit_times, item.at)
            if index < len(audit_times) and audit_times[index] - item.at <= SAME_TRANSACTION:
                return audit_times[index]
        elif item.phase > 0:
            index = bisect_right(audit_times, item.at) - 1
            if index >= 0 and item.at - audit_times[index] <= SAME_TRANSACTION:
                return audit_times[index]
        return item.at

    return sorted(audit + others, key=lambda item: (anchored(item), item.phase, item.sort_key))
