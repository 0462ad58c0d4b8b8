"""Reads for the agent console: the review queue, the refund card and the timeline.

Each function returns what a template renders (amounts already formatted in
the refund's currency), with the joins done, so templates stay free of logic
and queries. State never changes here.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from core.money import CURRENCY_EXPONENTS, format_plain, minor_to_major
from ledger.models import JournalEntry, Posting
from providers.base import WebhookRejected
from providers.registry import UnknownProvider, get_provider
from refunds.enums import ACTIVE_STATES, DecisionKind, PolicyOutcome, Recommendation, RefundState
from refunds.models import Decision, Order, OrderLine, OutboxMessage, Refund, WebhookEvent

PERM_DECIDE = "refunds.decide_refund"
PERM_SENIOR = "refunds.approve_senior"

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
    # The reply the policy drafted, before any edit (edits keep what they replaced).
    original_reply: str = ""

    @property
    def reply_declines(self) -> bool:
        """The reply is still the policy's decline draft, so approving with it would contradict itself.

        The approval email carries the drafted reply: sent as it stands it
        would tell the customer "approved" and "we cannot approve it" at once.
        The agent has to write the approval reply first (edit, then approve).
        """
        return self.approve_is_override and self.refund.draft_reply.strip() == self.original_reply.strip()

    @property
    def needs_two(self) -> bool:
        return self.refund.approvals_required > 1

    @property
    def approvals_given(self) -> int:
        return len(self.approvals)


def _approve_blocker(refund: Refund, *, is_maker: bool, user_approved: bool, can_decide: bool, can_senior: bool) -> str:
    """Why this user cannot approve, said before they try (the service still decides)."""
    if is_maker:
        return "You requested this refund, so someone else must approve it (maker-checker)."
    if not can_decide:
        return "Your role cannot approve refunds."
    if refund.approvals_required > 1 and not can_senior:
        return "This goodwill refund needs two senior agents; ask a senior to approve it."
    if user_approved:
        return "You gave an approval already; a different senior agent must give the second one."
    return ""


def refund_card(*, refund: Refund, user) -> RefundCard:
    currency = refund.currency
    payment = refund.payment
    decisions = list(refund.decisions.all())
    approvals = [d for d in decisions if d.kind == DecisionKind.APPROVE]
    is_open = refund.state == RefundState.REQUESTED
    is_maker = refund.requested_by_id is not None and refund.requested_by_id == user.pk
    user_approved = any(d.actor_id == user.pk for d in approvals)
    can_decide = user.has_perm(PERM_DECIDE)
    blocker = _approve_blocker(
        refund,
        is_maker=is_maker,
        user_approved=user_approved,
        can_decide=can_decide,
        can_senior=user.has_perm(PERM_SENIOR),
    )
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
        can_decide=can_decide,
        can_approve=is_open and not blocker,
        # The service refuses edits once someone approved: that approval was for the old terms.
        can_edit=is_open and can_decide and not approvals,
        approve_blocker=blocker if is_open else "",
        approve_is_override=reviewed and refund.recommendation == Recommendation.DECLINE,
        decline_is_override=reviewed and refund.recommendation == Recommendation.APPROVE,
        original_reply=edits[0].reply_before if edits else refund.draft_reply,
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

_TITLES = {
    "refund.requested": "Refund requested",
    "refund.approved": "Approved",
    "refund.approval_recorded": "Approval recorded",
    "refund.edited": "Draft or amount edited",
    "refund.denied": "Declined",
    "refund.canceled": "Canceled",
    "refund.evidence_attached": "Evidence attached",
    "notification.sent": "Email sent to the customer",
    "notification.failed": "Email to the customer failed",
    "notification.skipped": "No email sent (no address on file)",
    "refund.submitted": "Submitted to the provider",
    "refund.retry_submitted": "Submitted to the provider again (retry)",
    "refund.provider_pending": "Provider answered: pending",
    "refund.completed": "Completed: the provider confirmed the refund",
    "refund.failed": "Failed at the provider",
    "refund.payout_paid": "Manual payout marked paid",
    "outbox.dead_lettered": "Dead letter recorded for finance",
    "outbox.replayed": "Dead letter replayed",
}
_PROVIDER_ACTIONS = (
    "refund.submit",
    "refund.retry_submitted",
    "refund.provider",
    "refund.completed",
    "refund.failed",
    "refund.payout",
    "outbox.",
    "provider.",
    "webhook.",
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
    if action.startswith("notification."):
        return KIND_EMAIL
    if action.startswith(_PROVIDER_ACTIONS):
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
    """Provider submissions (or manual payouts): queued, delivered, dead-lettered."""
    items = []
    for message in OutboxMessage.objects.filter(refund=refund).order_by("created_at", "id"):
        payout = message.topic == OutboxMessage.TOPIC_PAYOUT
        details = [("Idempotency key", message.idempotency_key), ("Status", message.status)]
        if message.attempts:
            details.append(("Attempts", str(message.attempts)))
        if message.last_error:
            details.append(("Last error", message.last_error))
        steps = [
            (message.created_at, "Queued for manual payout" if payout else "Queued for the provider", details, ""),
            (message.delivered_at, "Handed to finance" if payout else "Delivered to the provider", [], ""),
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


def _provider_status(payload: dict, provider: str | None = None) -> str:
    """The provider's own word for the refund's state in a stored webhook event ("" if it says none).

    `provider` is the event's (`WebhookEvent.provider`); None reads it as the default provider's.
    """
    try:
        return get_provider(provider).parse_event(payload).provider_status
    except (WebhookRejected, UnknownProvider):
        return ""


def _webhook_items(refund: Refund) -> list[TimelineItem]:
    items = []
    for event in WebhookEvent.objects.filter(refund=refund).order_by("received_at", "id"):
        details = [("Event id", event.event_id), ("Inbox status", event.get_status_display())]
        status = _provider_status(event.payload)
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


# A service writes its ledger entry and outbox row first and its audit events last, all in one
# transaction: records this close before an audit event belong to that event's transaction.
SAME_TRANSACTION = timedelta(seconds=2)


def console_timeline(*, refund: Refund) -> list[TimelineItem]:
    """Everything that happened to a refund, in order: "why did we refund this?".

    Audit events (who, which rule, before/after; emails are audit events too),
    ledger entries with their postings, provider submissions from the outbox
    and provider webhooks. Ordered by time, except that a record written in
    the same transaction as audit events is placed with them — the webhook
    that caused a completion before it, the ledger entry and outbox row an
    approval caused after it — because audit events are written last and
    their clock time alone would put every effect before its cause.
    """
    audit = _audit_items(refund)
    others = _ledger_items(refund) + _outbox_items(refund) + _webhook_items(refund)
    audit_times = sorted({item.at for item in audit})

    def anchored(item: TimelineItem) -> datetime:
        if item.phase == 0:
            return item.at
        index = bisect_left(audit_times, item.at)
        if index < len(audit_times) and audit_times[index] - item.at <= SAME_TRANSACTION:
            return audit_times[index]
        return item.at

    return sorted(audit + others, key=lambda item: (anchored(item), item.phase, item.sort_key))
