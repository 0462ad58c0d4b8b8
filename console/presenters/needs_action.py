"""Needs action: the work a failure leaves behind, said in words, with the actions that fit (issue 12).

Four kinds of entry, each from its own table:

* a failed refund (`Refund.state == failed`, retryable or not, or reversed by
  the provider after it had completed);
* a dead-lettered outbox message (`OutboxStatus.DEAD`): the provider call's
  outcome is unknown after the last attempt;
* a held webhook event (`WebhookStatus.HELD`): it names one of our refunds but
  does not add up, so it changed nothing;
* an open manual payout task (`PayoutStatus.OPEN`): finance pays by hand.

`refunds.failures.failure_text` (read by the Slack card too) and
`dead_letter_text`, `held_text` here are where a failure is put into words for
staff: the Needs action list and the refund card both read them. The actions
an entry offers are those its state allows and the user's role may take; the
services check both again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.urls import reverse

from console.presenters.formatting import money
from refunds.enums import OutboxStatus, PayoutStatus, RefundState, WebhookStatus
from refunds.failures import failure_text
from refunds.models import OutboxMessage, PayoutTask, Refund, WebhookEvent
from refunds.permissions import Perm, has_perm

KIND_FAILED = "failed"
KIND_DEAD_LETTER = "dead_letter"
KIND_HELD_WEBHOOK = "held_webhook"
KIND_PAYOUT = "payout"

ACTION_RETRY = "retry"
ACTION_CANCEL = "cancel"
ACTION_PAYOUT = "payout"
ACTION_REPLAY = "replay"
ACTION_INBOX = "inbox"
ACTION_REVIEW = "review"

# Per kind, at most this many entries are listed (oldest first); the counts are always whole.
LIST_LIMIT = 100


def dead_letter_text(message: OutboxMessage) -> str:
    """Why the outbox gave up on a message, in words, with the provider's last error for reference."""
    error = message.last_error or ""
    if error.startswith("idempotency mismatch"):
        why = "The provider refused our idempotency key (reused with other parameters): a bug. Tell engineering."
    else:
        why = (
            f"We could not get an answer from the provider after {message.attempts} attempt"
            f"{'s' if message.attempts != 1 else ''}, so we do not know whether the refund was made. "
            "Retry the delivery once the provider is reachable: it asks again with the same key, "
            "so the provider cannot pay twice."
        )
    return why


def held_text(event: WebhookEvent) -> str:
    """Why a provider event was held, in words: it changed nothing, finance checks it."""
    reason = event.note.removeprefix("held: ")
    return (
        f"A provider event names one of our refunds but does not add up ({reason}); it changed nothing. "
        "Compare it with the provider dashboard and the refund's card."
    )


def payout_text(task: PayoutTask) -> str:
    refund = task.refund
    return (
        f"This refund is paid by hand: pay {money(refund.amount_minor, refund.currency)} to the customer "
        "(bank transfer or cash), then record the payment reference here. That completes the refund."
    )


@dataclass(frozen=True)
class NeedsActionEntry:
    """One line of the Needs action list (and the panel of the refund's card)."""

    kind: str
    key: str  # unique on the page: the kind and the row's id
    title: str
    text: str
    since: datetime | None
    refund: Refund | None = None
    amount: str = ""
    actions: tuple[str, ...] = ()
    # Actions the entry has but this user's role may not take: the card says who can.
    withheld: tuple[str, ...] = ()
    message_id: int | None = None
    webhook_pk: int | None = None
    inbox_url: str = ""
    detail: str = ""

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def who_can_act(self) -> str:
        """Said instead of the actions this user's role may not take."""
        if self.kind == KIND_FAILED:
            return "A senior agent or finance can retry or cancel this refund."
        return "Finance can act on this."


KIND_LABELS = {
    KIND_FAILED: "Failed refund",
    KIND_DEAD_LETTER: "Provider call given up",
    KIND_HELD_WEBHOOK: "Held provider event",
    KIND_PAYOUT: "Manual payout waiting",
}
SECTION_LABELS = {
    KIND_FAILED: "Failed refunds",
    KIND_DEAD_LETTER: "Provider calls given up",
    KIND_HELD_WEBHOOK: "Held provider events",
    KIND_PAYOUT: "Manual payouts waiting",
}
# Who may take each action (the services check it again).
ACTION_PERMS = {
    ACTION_RETRY: Perm.RESOLVE_FAILED,
    ACTION_CANCEL: Perm.RESOLVE_FAILED,
    ACTION_PAYOUT: Perm.MARK_PAYOUT_PAID,
    ACTION_REPLAY: Perm.VIEW_FINANCE,
    ACTION_INBOX: Perm.VIEW_FINANCE,
    ACTION_REVIEW: Perm.VIEW_FINANCE,
}


def _split(actions: list[str], user) -> tuple[tuple[str, ...], tuple[str, ...]]:
    allowed = tuple(a for a in actions if has_perm(user, ACTION_PERMS[a]))
    return allowed, tuple(a for a in actions if a not in allowed)


def failed_refunds() -> QuerySet[Refund]:
    return (
        Refund.objects.filter(state=RefundState.FAILED)
        .select_related("order", "order__customer", "payment")
        .order_by("updated_at", "pk")
    )


def dead_letters() -> QuerySet[OutboxMessage]:
    return (
        OutboxMessage.objects.filter(status=OutboxStatus.DEAD)
        .select_related("refund", "refund__order")
        .order_by("dead_at", "pk")
    )


def held_webhooks() -> QuerySet[WebhookEvent]:
    """Held events finance has not reviewed yet (reviewed ones stay `held` in the inbox)."""
    return WebhookEvent.objects.filter(status=WebhookStatus.HELD, reviewed_at__isnull=True).order_by(
        "received_at", "pk"
    )


def open_payouts() -> QuerySet[PayoutTask]:
    return (
        PayoutTask.objects.filter(status=PayoutStatus.OPEN)
        .select_related("refund", "refund__order")
        .order_by("created_at", "pk")
    )


def needs_action_counts() -> dict[str, int]:
    """How many entries of each kind wait, and their total (the navigation's badge)."""
    counts = {
        KIND_FAILED: Refund.objects.filter(state=RefundState.FAILED).count(),
        KIND_DEAD_LETTER: OutboxMessage.objects.filter(status=OutboxStatus.DEAD).count(),
        KIND_HELD_WEBHOOK: held_webhooks().count(),
        KIND_PAYOUT: PayoutTask.objects.filter(status=PayoutStatus.OPEN).count(),
    }
    counts["total"] = sum(counts.values())
    return counts


def failed_entry(refund: Refund, user) -> NeedsActionEntry:
    actions = [ACTION_RETRY] if refund.failure_retryable else []
    actions.append(ACTION_CANCEL)
    allowed, withheld = _split(actions, user)
    if refund.reversed_by_provider:
        title = "Reversed by the provider after it was paid"
    elif refund.failure_retryable:
        title = "Failed at the provider — can be retried"
    else:
        title = "Failed at the provider"
    return NeedsActionEntry(
        kind=KIND_FAILED,
        key=f"failed-{refund.pk}",
        title=title,
        text=failure_text(refund),
        since=refund.updated_at,
        refund=refund,
        amount=money(refund.amount_minor, refund.currency),
        actions=allowed,
        withheld=withheld,
        detail=f"failure code {refund.failure_code or '—'} · attempt {refund.submission_count}",
    )


def dead_letter_entry(message: OutboxMessage, user) -> NeedsActionEntry:
    allowed, withheld = _split([ACTION_REPLAY], user)
    refund = message.refund
    return NeedsActionEntry(
        kind=KIND_DEAD_LETTER,
        key=f"dead-{message.pk}",
        title="Outcome unknown at the provider",
        text=dead_letter_text(message),
        since=message.dead_at,
        refund=refund,
        amount=money(refund.amount_minor, refund.currency),
        actions=allowed,
        withheld=withheld,
        message_id=message.pk,
        detail=f"key {message.idempotency_key} · last error: {(message.last_error or '—')[:200]}",
    )


def held_entry(event: WebhookEvent, user) -> NeedsActionEntry:
    allowed, withheld = _split([ACTION_INBOX, ACTION_REVIEW], user)
    return NeedsActionEntry(
        kind=KIND_HELD_WEBHOOK,
        key=f"held-{event.pk}",
        title=f"Provider event {event.event_type} did not add up",
        text=held_text(event),
        since=event.received_at,
        actions=allowed,
        withheld=withheld,
        inbox_url=f"{reverse('finance:webhooks')}?status=held&search={event.event_id}",
        webhook_pk=event.pk,
        detail=f"event {event.event_id} · provider refund {event.provider_refund_id or '—'}",
    )


def payout_entry(task: PayoutTask, user) -> NeedsActionEntry:
    allowed, withheld = _split([ACTION_PAYOUT], user)
    refund = task.refund
    return NeedsActionEntry(
        kind=KIND_PAYOUT,
        key=f"payout-{task.pk}",
        title="Pay the customer by hand",
        text=payout_text(task),
        since=task.created_at,
        refund=refund,
        amount=money(refund.amount_minor, refund.currency),
        actions=allowed,
        withheld=withheld,
    )


def needs_action_sections(user) -> list[tuple[str, str, list[NeedsActionEntry], int]]:
    """The list page: per kind its label, key, first LIST_LIMIT entries (oldest first) and full count."""
    counts = needs_action_counts()
    sources = [
        (KIND_FAILED, failed_refunds(), failed_entry),
        (KIND_DEAD_LETTER, dead_letters(), dead_letter_entry),
        (KIND_PAYOUT, open_payouts(), payout_entry),
        (KIND_HELD_WEBHOOK, held_webhooks(), held_entry),
    ]
    return [
        (SECTION_LABELS[kind], kind, [build(row, user) for row in rows[:LIST_LIMIT]], counts[kind])
        for kind, rows, build in sources
    ]


def refund_needs_action(refund: Refund, user) -> list[NeedsActionEntry]:
    """The entries about one refund, for its card: failed, its dead-lettered message, its open payout."""
    if refund.state in (RefundState.REQUESTED, RefundState.DENIED, RefundState.CANCELED):
        return []  # nothing was sent, or nothing will be: no entry can be about it
    entries = []
    if refund.state == RefundState.FAILED:
        entries.append(failed_entry(refund, user))
    for message in OutboxMessage.objects.filter(refund=refund, status=OutboxStatus.DEAD).order_by("pk"):
        message.refund = refund
        entries.append(dead_letter_entry(message, user))
    task = PayoutTask.objects.filter(refund=refund, status=PayoutStatus.OPEN).first()
    if task is not None:
        task.refund = refund
        entries.append(payout_entry(task, user))
    return entries
