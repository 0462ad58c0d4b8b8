"""The timeline: everything that happened to one refund, in order ("why did we refund this?").

Written for people first: each item leads with a sentence ("anna approved
the refund of 1,234.00 USD"); the engineering detail (correlation ids,
ledger codes and postings, message and event ids, idempotency keys) is
kept for the toggle beside it. Each email to the customer can be read as
it was sent, rebuilt from the refund as it stood then.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate

from django.db.models import Prefetch

from audit.enums import AuditAction
from audit.models import AuditEvent
from console.presenters.formatting import money, when
from console.presenters.timeline_text import audit_sentence, ledger_sentence
from core.money import CURRENCY_EXPONENTS
from ledger.models import JournalEntry, Posting
from notifications.emails import notification_build
from notifications.models import CustomerEmail, EmailStatus
from providers.base import WebhookRejected
from providers.registry import UnknownProvider, get_provider
from refunds.models import OutboxMessage, Refund, WebhookEvent

logger = logging.getLogger("console.timeline")

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
    A.REFUND_PROVIDER_REVERSED: "Failed at the provider after it had completed (reversal)",
    A.REFUND_FAILURE_CANCELED: "Canceled after failing (Needs action)",
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
        A.REFUND_PROVIDER_REVERSED,
        A.OUTBOX_DEAD_LETTERED,
        A.OUTBOX_REPLAYED,
        A.WEBHOOK_RECEIVED,
    }
)
# Snapshot keys worth showing as "before → after", in reading order.
_CHANGE_KEYS = ["state", "amount_minor", "approvals_required", "draft_reply", "provider_refund_id"]


@dataclass(frozen=True)
class EmailPreview:
    """The customer email as sent: rebuilt with `notification_build` for its message id and language."""

    subject: str
    body: str
    language: str
    message_id: str
    # Empty when rebuilt from the refund as it stood when the email was written; else why it may differ.
    caveat: str = ""


@dataclass
class TimelineItem:
    at: datetime
    kind: str
    title: str
    who: str = ""
    rule: str = ""
    note: str = ""
    flagged: bool = False
    # Engineering detail, behind the toggle: ids, codes, postings.
    details: list[tuple[str, str]] = field(default_factory=list)
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    # Within one transaction: causes (-1) before the audit events (0) before their effects (1).
    phase: int = 1
    # Tie-break for items in the same instant and phase: the audit trail's insertion order first.
    sort_key: tuple = ()
    # What happened, in a sentence a person reads first.
    summary: str = ""
    email: EmailPreview | None = None
    # The audit event's id: the spine of the order (events of one refund are written under its lock).
    audit_id: int | None = None
    # A decline's internal rationale: for staff, never sent to the customer (who got `note`).
    rationale: str = ""


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
        return money(value, currency)
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


def _audit_items(refund: Refund, events: list[AuditEvent]) -> list[TimelineItem]:
    items = []
    for event in events:
        details = []
        if event.amount_minor is not None and event.currency:
            details.append(("Amount", money(event.amount_minor, event.currency)))
        details.append(("Audit event", f"#{event.pk} {event.action}"))
        if event.correlation_id:
            details.append(("Correlation id", event.correlation_id))
        if isinstance(event.after, dict) and event.after.get("message_id"):
            details.append(("Message id", f"{event.after['message_id']} ({event.after.get('language', '')})"))
        items.append(
            TimelineItem(
                at=event.occurred_at,
                kind=_audit_kind(event.action),
                title=_TITLES.get(event.action, event.action.replace(".", " ").replace("_", " ").capitalize()),
                who=event.actor_label,
                rule=event.policy_rule,
                # An email's note is its message id and language: detail, not something a person wrote.
                note="" if event.action in _EMAIL_ACTIONS or event.action == A.WEBHOOK_RECEIVED else event.note,
                flagged=event.flagged,
                details=details,
                changes=_changes(event.before, event.after, refund.currency),
                phase=0,
                sort_key=(0, event.pk),
                summary=audit_sentence(event, refund),
                audit_id=event.pk,
                rationale=str(event.after.get("rationale") or "") if isinstance(event.after, dict) else "",
            )
        )
    return items


def _posting(posting: Posting) -> tuple[str, str]:
    side = "debit" if posting.amount_minor > 0 else "credit"
    return posting.account_id, f"{side} {money(abs(posting.amount_minor), posting.currency)}"


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
            details=[
                ("Entry", f"#{entry.pk} {entry.entry_type}"),
                *([("Memo", entry.memo)] if entry.memo else []),
                *[_posting(posting) for posting in entry.postings.all()],
            ],
            sort_key=(1, entry.pk),
            summary=ledger_sentence(entry.entry_type, money(entry.amount_minor, entry.currency)),
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
        key = [("Idempotency key", message.idempotency_key)]
        steps = [
            (message.created_at, "Queued for the provider", details, "", "Queued for the payment provider."),
            (message.delivered_at, "Delivered to the provider", key, "", "The payment provider received the refund."),
            (message.dead_at, "Dead-lettered after the last retry", key, message.last_error,
             "Sending to the payment provider gave up after the last retry."),
        ]  # fmt: skip
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
                summary=summary,
            )
            for step, (at, title, info, note, summary) in enumerate(steps)
            if at is not None
        ]
    return items


def _pending_email_items(refund: Refund) -> list[TimelineItem]:
    """Emails not sent yet (their outcome, sent or failed, is an audit event): queued, or waiting to retry."""
    items = []
    for email in CustomerEmail.objects.filter(refund=refund, status=EmailStatus.PENDING).order_by("created_at", "id"):
        details = [("Message id", email.message_id), ("Status", email.status)]
        if email.attempts:
            details += [("Attempts", str(email.attempts)), ("Next attempt", when(email.available_at))]
        items.append(
            TimelineItem(
                email.created_at,
                KIND_EMAIL,
                "Email to the customer waiting to be sent",
                "system",
                note=email.last_error,
                details=details,
                sort_key=(4, email.pk),
                summary="An email to the customer is waiting to be sent"
                + (" (the last attempt failed; it will be tried again)." if email.attempts else "."),
            )
        )
    return items


def _provider_status(payload: dict, provider: str) -> str:
    """The provider's own word for the refund's state in a stored webhook event ("" if it says none)."""
    try:
        return get_provider(provider).parse_event(payload).provider_status
    except (WebhookRejected, UnknownProvider):
        return ""


def _webhook_details(event: WebhookEvent, status: str) -> list[tuple[str, str]]:
    details = [("Event", f"{event.event_type} {event.event_id}"), ("Inbox status", event.get_status_display())]
    if status:
        details.insert(0, ("Provider status", status))
    if event.replay_count:
        details.append(("Replays ignored", str(event.replay_count)))
    return details


def _webhook_items(refund: Refund, webhooks: list[WebhookEvent]) -> list[TimelineItem]:
    """Webhooks that moved nothing on their own audit event: held, ignored, or stored before it applied."""
    items = []
    for event in webhooks:
        status = _provider_status(event.payload, event.provider)
        details = _webhook_details(event, status)
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
                summary=(
                    f"The payment provider told us the refund is {status}."
                    if status
                    else "The payment provider sent an update about the refund."
                ),
            )
        )
    return items


# A refund's move is audited with the time it began (refunds.services.transition), and everything it
# writes — ledger entry, outbox message — follows within the same transaction; a webhook that
# caused a move was stored just before it. Records this close to an audit event belong with it.
SAME_TRANSACTION = timedelta(seconds=2)


def _merge_webhooks(audit: list[TimelineItem], events: list[AuditEvent], webhooks: list[WebhookEvent]) -> list:
    """Put each applied webhook on its `webhook.received` audit event; return the webhooks left alone.

    A webhook that moves a refund is recorded twice — its inbox row and the
    audit event written when it was applied — and was listed twice. It is one
    thing that happened: it is shown once, where the audit trail has it, with
    the inbox row's detail (provider status, replays ignored).
    """
    by_note = {f"{webhook.event_type} {webhook.event_id}:": webhook for webhook in webhooks}
    merged: set[int] = set()
    for item, event in zip(audit, events, strict=True):
        if event.action != A.WEBHOOK_RECEIVED:
            continue
        webhook = next((w for prefix, w in by_note.items() if event.note.startswith(prefix)), None)
        if webhook is None or webhook.pk in merged:
            continue
        merged.add(webhook.pk)
        status = _provider_status(webhook.payload, webhook.provider)
        item.kind = KIND_WEBHOOK
        item.title = f"Provider webhook {webhook.event_type}"
        item.who = "payment provider"
        item.note = webhook.note
        item.details = _webhook_details(webhook, status) + item.details
        item.summary = audit_sentence(event, event.refund, provider_status=status)
        # Placed where the webhook arrived, as the cause of what it applied (its audit event is
        # written after the move it caused), so the timeline reads "told us" before "completed".
        item.at, item.phase, item.sort_key, item.audit_id = webhook.received_at, -1, (3, webhook.pk), None
    return [webhook for webhook in webhooks if webhook.pk not in merged]


def _sent_email(email: CustomerEmail, refund: Refund, language: str) -> EmailPreview | None:
    """The email as it went out: built for its message id and language from the refund as it stood then.

    The refund's history (django-simple-history) holds it as of the moment
    the email was written, in the move's transaction; the status link is
    the refund's own (its token never changes and is kept out of history).
    """
    caveat = ""
    try:
        then = refund.history.as_of(email.created_at)
    except Refund.DoesNotExist:
        then, caveat = refund, "Rebuilt from the refund as it is now (no earlier record of it)."
    then.__dict__["_status_token"] = refund.status_token
    try:
        built = notification_build(refund=then, message_id=email.message_id, language=language)
    except Exception:  # noqa: BLE001 — an email that cannot be rebuilt (a retired message) must not break the page
        logger.warning(
            "email not rebuilt for the timeline",
            extra={"message_id": "MSG.console.email_preview_failed", "refund_id": refund.public_id},
        )
        return None
    return EmailPreview(built.subject, built.body, language, email.message_id, caveat)


def _attach_emails(refund: Refund, audit: list[TimelineItem], events: list[AuditEvent]) -> None:
    """Give each sent (or failed) email's audit event the email itself, readable in place.

    The k-th outcome of a message id belongs to the k-th email of that id
    to finish (one email row per message and refund version).
    """
    finished: dict[str, list[CustomerEmail]] = {}
    emails = (
        CustomerEmail.objects.filter(refund=refund).exclude(status=EmailStatus.PENDING).order_by("finished_at", "id")
    )
    for email in emails:
        finished.setdefault(email.message_id, []).append(email)
    for item, event in zip(audit, events, strict=True):
        if event.action not in (A.NOTIFICATION_SENT, A.NOTIFICATION_FAILED) or not isinstance(event.after, dict):
            continue
        queue = finished.get(event.after.get("message_id", ""), [])
        if not queue:
            continue
        item.email = _sent_email(queue.pop(0), refund, event.after.get("language") or "en")
        if item.email is not None and event.action == A.NOTIFICATION_SENT:
            item.summary = audit_sentence(event, refund, email_subject=item.email.subject)


def console_timeline(*, refund: Refund) -> list[TimelineItem]:
    """Everything that happened to a refund, in order: "why did we refund this?".

    Audit events (who, which rule, before/after; an email's outcome is an audit
    event too, shown with the email as sent, and an email not sent yet is
    shown from the email outbox), ledger entries with their postings, provider
    submissions from the outbox and provider webhooks (once each: an applied
    webhook is shown on its audit event).

    The audit trail is the spine: its events in id order, which for one
    refund is the order things happened (they are written under the refund's
    row lock), never re-sorted by clock time — a move is stamped with the
    time it began, so a slower transaction's events can carry an earlier
    time than the ones it waited for. Every other record goes between two
    audit events: an effect (ledger entry, outbox row) after the latest
    event at or before it, a cause (the webhook that completed the refund)
    right before the first event within SAME_TRANSACTION after it.
    """
    events = list(AuditEvent.objects.filter(refund=refund).select_related("actor_user").order_by("id"))
    audit = _audit_items(refund, events)
    webhooks = list(WebhookEvent.objects.filter(refund=refund).order_by("received_at", "id"))
    loose_webhooks = _merge_webhooks(audit, events, webhooks)
    _attach_emails(refund, audit, events)
    merged_webhooks = [item for item in audit if item.audit_id is None]
    audit = [item for item in audit if item.audit_id is not None]
    others = (
        _ledger_items(refund)
        + _outbox_items(refund)
        + _webhook_items(refund, loose_webhooks)
        + _pending_email_items(refund)
        + merged_webhooks
    )
    # The latest audit time so far, along the spine: where a record's time falls between events.
    reached = list(accumulate((item.at for item in audit), max))

    def position(item: TimelineItem) -> tuple:
        if item.audit_id is not None:
            return (audit_position[item.audit_id], 0, item.at, item.sort_key)
        if item.phase < 0:
            index = bisect_left(reached, item.at)
            if index < len(reached) and reached[index] - item.at <= SAME_TRANSACTION:
                return (index, -1, item.at, item.sort_key)
        index = bisect_right(reached, item.at) - 1
        if index >= 0 and item.at - reached[index] <= SAME_TRANSACTION:
            return (index, 1, reached[index], item.sort_key)  # written with that event: kind order, not clock
        return (index, 1, item.at, item.sort_key)

    audit_position = {item.audit_id: index for index, item in enumerate(audit)}
    return sorted(audit + others, key=position)
