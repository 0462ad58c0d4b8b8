"""The timeline: everything that happened to one refund, in order ("why did we refund this?")."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Prefetch

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.money import CURRENCY_EXPONENTS, format_plain
from ledger.models import JournalEntry, Posting
from notifications.models import CustomerEmail, EmailStatus
from providers.base import WebhookRejected
from providers.registry import UnknownProvider, get_provider
from refunds.models import OutboxMessage, Refund, WebhookEvent

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
        if isinstance(event.after, dict) and event.after.get("rationale"):
            # A decline's internal rationale (staff only; the customer got the note).
            details.append(("Internal rationale", str(event.after["rationale"])))
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


def _pending_email_items(refund: Refund) -> list[TimelineItem]:
    """Emails not sent yet (their outcome, sent or failed, is an audit event): queued, or waiting to retry."""
    items = []
    for email in CustomerEmail.objects.filter(refund=refund, status=EmailStatus.PENDING).order_by("created_at", "id"):
        details = [("Message", email.message_id), ("Status", email.status)]
        if email.attempts:
            details += [("Attempts", str(email.attempts)), ("Next attempt", email.available_at.isoformat())]
        items.append(
            TimelineItem(
                email.created_at,
                KIND_EMAIL,
                "Email to the customer waiting to be sent",
                "system",
                note=email.last_error,
                details=details,
                sort_key=(4, email.pk),
            )
        )
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

    Audit events (who, which rule, before/after; an email's outcome is an audit
    event too, and an email not sent yet is shown from the email outbox),
    ledger entries with their postings, provider submissions from the outbox
    and provider webhooks. Ordered by time, except that a record written with
    audit events is placed with them: an effect (ledger entry, outbox row)
    right after the latest event at or before it, a cause (the webhook that
    completed the refund) right before the first event at or after it — their
    clock times alone could interleave with the next change's.
    """
    audit = _audit_items(refund)
    others = _ledger_items(refund) + _outbox_items(refund) + _webhook_items(refund) + _pending_email_items(refund)
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
