"""The approval card's Block Kit, rendered from the refund as it is now (docs/slack.md "The card and its outbox").

One function, `card_blocks`, for the first post and every update: the card
never patches a message, it says again what the refund is. While the refund
waits for a person (`requested`) the card carries the three buttons, in an
actions block whose `block_id` names the version shown (`decide:{public_id}:v{n}`:
the interactions helper refuses a tap on a card older than the refund). Once
no decision is left, the buttons go and result lines say who did what, when,
and how it ended — from the Decisions and the audit trail, as the console's
timeline does. A decline shows the message the customer got, never the
internal rationale.

What the customer or the merchant wrote (names, items, the reply, the
reason) is escaped for Slack's mrkdwn (`&`, `<`, `>`), so it cannot form a
link or a mention, and every mrkdwn object is `verbatim` (Slack neither
auto-links URLs nor parses channel names or @mentions in it); the customer's
note, name and item names are one line each (newlines and control characters
become spaces), so they cannot draw lines that look like the card's own.
Every text is clipped to Slack's limits.

The card never shows the customer's email address: the approvals channel may
have guests, and the name with the order id is enough to recognise the refund
(the console's card, one link away, has the rest).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Prefetch
from django.urls import reverse

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.i18n import format_moment, staff_locale, staff_money
from notifications.replies import reply_render
from refunds.enums import PAYMENT_WITHDRAWN_FAILURE_CODES, DecisionKind, RefundState
from refunds.failures import failure_text
from refunds.models import Decision, OrderLine, Refund

S = RefundState
A = AuditAction

# Slack's limits (api.slack.com/reference/block-kit): a section's text, a field, a header, the fallback.
SECTION_MAX = 3000
FIELD_MAX = 2000
HEADER_MAX = 150
TEXT_MAX = 3000
FIELDS_MAX = 10
BLOCKS_MAX = 50
# What a card shows of the customer's own words and the order's items before "…".
NOTE_MAX = 300
ITEMS_MAX = 600

ACTION_APPROVE = "approve"
ACTION_EDIT = "edit"
ACTION_DECLINE = "decline"
BLOCK_PREFIX = "decide"

_STATE_HEADERS = {
    S.REQUESTED: "needs a decision",
    S.APPROVED: "approved",
    S.SUBMITTING: "sent to the provider",
    S.PROVIDER_PENDING: "with the provider",
    S.COMPLETED: "completed",
    S.FAILED: "failed",
    S.DENIED: "declined",
    S.CANCELED: "canceled",
}
_APPROVAL_ACTIONS = (A.REFUND_APPROVAL_RECORDED, A.REFUND_APPROVED)
_CANCEL_ACTIONS = (A.REFUND_CANCELED, A.REFUND_FAILURE_CANCELED)
_CARD_ACTIONS = (A.REFUND_REQUESTED, *_APPROVAL_ACTIONS, A.REFUND_DENIED, *_CANCEL_ACTIONS, A.REFUND_EDITED)


def decide_block_id(public_id: str, version: int) -> str:
    """The actions block's id: which refund, at which version the buttons were shown."""
    return f"{BLOCK_PREFIX}:{public_id}:v{version}"


def escape(text: str) -> str:
    """Text for mrkdwn: `&`, `<` and `>` are Slack's control characters (links, mentions)."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Characters that would break a line or steer how it is drawn: controls (Cc, Cf: bidi overrides,
# zero-widths) and Unicode's line and paragraph separators. The zero-width joiner stays (emoji).
_BREAKING_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def one_line(text: str) -> str:
    """`text` on one line: newlines and control characters become spaces, runs of spaces one."""
    spaced = "".join(
        " " if unicodedata.category(char) in _BREAKING_CATEGORIES and char != "\u200d" else char
        for char in (text or "")
    )
    return " ".join(spaced.split())


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def utc(moment: datetime | None) -> str:
    """'2 Dec 2026, 14:05 UTC': one zone for a channel whose readers live in several."""
    return format_moment(moment, staff_locale(), UTC) if moment is not None else ""


def card_refund(refund_id: int) -> Refund | None:
    """The refund with what its card reads, in a few queries."""
    return (
        Refund.objects.select_related("order", "order__customer", "payment", "requested_by")
        .prefetch_related(
            Prefetch("decisions", queryset=Decision.objects.select_related("actor")),
            Prefetch("order__lines", queryset=OrderLine.objects.order_by("line_no")),
        )
        .filter(pk=refund_id)
        .first()
    )


@dataclass(frozen=True)
class _Trail:
    """The audit events the card tells, oldest first, by action."""

    events: list[AuditEvent]

    def all(self, *actions: str) -> list[AuditEvent]:
        return [e for e in self.events if e.action in actions]

    def last(self, *actions: str) -> AuditEvent | None:
        found = self.all(*actions)
        return found[-1] if found else None


def _trail(refund: Refund) -> _Trail:
    events = AuditEvent.objects.filter(refund=refund, action__in=_CARD_ACTIONS).order_by("id")
    return _Trail(list(events.only("id", "action", "actor_type", "actor_label", "actor_user_id", "occurred_at")))


def _label(event: AuditEvent | None) -> str:
    """Who acted, as the audit trail names them ('alice', 'alice (Slack U0ALICE)', 'bob (key ab12)')."""
    if event is None:
        return "someone"
    if event.actor_type == "system":
        return "the system" if event.actor_label in ("", "system") else f"the {event.actor_label}"
    return event.actor_label or "someone"


def _approvers(refund: Refund, trail: _Trail) -> list[str]:
    """The people who approved, in order, as the audit trail names them (so "(Slack U…)" shows where it applies)."""
    labels = {e.actor_user_id: e.actor_label for e in trail.all(*_APPROVAL_ACTIONS) if e.actor_user_id}
    return [
        escape(labels.get(d.actor_id) or d.actor_label)
        for d in refund.decisions.all()
        if d.kind == DecisionKind.APPROVE
    ]


def customer_text(refund: Refund) -> str:
    """The customer's name only: never the email address (docs/slack.md "The card and its outbox")."""
    return escape(one_line(refund.order.customer.name)) or "(no name)"


def _items(refund: Refund) -> str:
    names = ((line.quantity, one_line(line.description or line.sku)) for line in refund.order.lines.all())
    lines = [f"{quantity} × {name}" if quantity != 1 else name for quantity, name in names if name]
    return clip(escape("\n".join(lines)), ITEMS_MAX) or "—"


def _reason(refund: Refund) -> str:
    """The reason, and the customer's own words when they gave some."""
    text = escape(refund.get_reason_display())
    note = one_line(refund.customer_note)
    return f"{text}\n{escape(f'“{clip(note, NOTE_MAX)}”')}" if note else text


def _quote(text: str, limit: int) -> str:
    """Text as a mrkdwn quote, clipped so the whole section stays within `limit`."""
    body = clip(escape(text.strip()) or "(empty)", limit - 200)
    return "\n".join(f"> {line}" if line else ">" for line in body.splitlines())


def _approvals_text(refund: Refund, approvers: list[str]) -> str:
    text = f"{len(approvers)} of {refund.approvals_required} approval{'s' if refund.approvals_required != 1 else ''}"
    return f"{text}: {', '.join(approvers)}" if approvers else text


def _requested(trail: _Trail, refund: Refund) -> str:
    event = trail.last(A.REFUND_REQUESTED)
    who = _label(event) if event is not None else (refund.requested_by.get_username() if refund.requested_by else "")
    return f"{escape(who) or 'someone'}, {utc(event.occurred_at if event else refund.created_at)}"


def _result_lines(refund: Refund, trail: _Trail, approvers: list[str]) -> list[str]:
    """Once no decision is left: who decided, when, and where the refund stands now."""
    lines = []
    approved = trail.last(A.REFUND_APPROVED)
    if approved is not None:
        who = " and ".join(approvers) or escape(_label(approved))
        lines.append(f":white_check_mark: *Approved* by {who} at {utc(approved.occurred_at)}")
    state = refund.state
    if state == S.APPROVED:
        lines.append(":hourglass_flowing_sand: Waiting to be sent to the provider")
    elif state == S.SUBMITTING:
        lines.append(f":outbox_tray: *Sent to the provider* at {utc(refund.submitted_at)}")
    elif state == S.PROVIDER_PENDING:
        lines.append(f":hourglass_flowing_sand: *With the provider* since {utc(refund.submitted_at)}")
    elif state == S.COMPLETED:
        lines.append(f":moneybag: *Completed* — refunded on {utc(refund.completed_at)}")
    elif state == S.FAILED:
        title = "Returned by the bank" if refund.reversed_by_provider else "Failed"
        lines.append(f":warning: *{title}*: {escape(failure_text(refund))}")
    elif state == S.DENIED:
        denied = trail.last(A.REFUND_DENIED)
        message = reply_render(refund.decline_reason, refund=refund)
        when = f" at {utc(denied.occurred_at)}" if denied else ""
        lines.append(f":x: *Declined* by {escape(_label(denied))}{when}: “{escape(message)}”")
    elif state == S.CANCELED:
        canceled = trail.last(*_CANCEL_ACTIONS)
        when = f" at {utc(canceled.occurred_at)}" if canceled else ""
        withdrawn = refund.failure_code in PAYMENT_WITHDRAWN_FAILURE_CODES.values()
        why = f": {escape(failure_text(refund))}" if withdrawn else ""
        lines.append(f":no_entry_sign: *Canceled* by {escape(_label(canceled))}{when}{why}")
    return lines


def console_card_url(refund: Refund) -> str:
    return f"{settings.APP_BASE_URL}{reverse('console:card', args=[refund.public_id])}"


def card_blocks(refund: Refund) -> tuple[str, list[dict[str, Any]]]:
    """The card of `refund` as it is now: the notification text and the Block Kit blocks."""
    trail = _trail(refund)
    amount = staff_money(refund.amount_minor, refund.currency)
    approvers = _approvers(refund, trail)
    is_open = refund.state == S.REQUESTED
    status = _STATE_HEADERS.get(refund.state, refund.state)
    customer_name = one_line(refund.order.customer.name) or refund.order.order_id
    fields = [
        f"*Customer*\n{customer_text(refund)}",
        f"*Order*\n{escape(refund.order.order_id)}",
        f"*Item*\n{_items(refund)}",
        f"*Amount*\n{amount}",
        f"*Reason*\n{_reason(refund)}",
        f"*Approvals*\n{_approvals_text(refund, approvers)}",
        f"*Requested by*\n{_requested(trail, refund)}",
    ]
    rule = f"*Rule* `{escape(refund.policy_rule)}`\n{escape(refund.policy_rule_text)}"
    reply = reply_render(refund.draft_reply, refund=refund)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(f"Refund {amount} · {status}", HEADER_MAX)}},
        {
            "type": "section",
            "fields": [_mrkdwn(clip(f, FIELD_MAX)) for f in fields[:FIELDS_MAX]],
        },
        _section(rule),
    ]
    # A declined or canceled refund never sent the approval's reply: its result line says what the customer got.
    if reply.strip() and refund.state not in (S.DENIED, S.CANCELED):
        label = "*Drafted reply to the customer*\n" if is_open else "*Reply to the customer*\n"
        blocks.append(_section(label + _quote(reply, SECTION_MAX)))
    edited = trail.last(A.REFUND_EDITED)
    context = f"<{console_card_url(refund)}|Open {refund.public_id} in Refund desk>"
    if edited is not None:
        context += f" · edited by {escape(_label(edited))} at {utc(edited.occurred_at)}"
    if is_open:
        blocks.append({"type": "context", "elements": [_mrkdwn(clip(context, SECTION_MAX))]})
        if refund.approvals_required > len(approvers) > 0:
            waiting = f"Waiting for a second senior approval ({len(approvers)} of {refund.approvals_required} given)."
            blocks.append({"type": "context", "elements": [_mrkdwn(waiting)]})
        blocks.append(
            {
                "type": "actions",
                "block_id": decide_block_id(refund.public_id, refund.version),
                "elements": [
                    _button("Approve", ACTION_APPROVE, refund.public_id, style="primary"),
                    _button("Edit", ACTION_EDIT, refund.public_id),
                    _button("Decline", ACTION_DECLINE, refund.public_id, style="danger"),
                ],
            }
        )
        summary = f"needs a decision ({_approvals_text(refund, approvers)})"
    else:
        lines = _result_lines(refund, trail, approvers)
        if lines:
            blocks.append(_section("\n".join(lines)))
        blocks.append({"type": "context", "elements": [_mrkdwn(clip(context, SECTION_MAX))]})
        summary = status
    text = clip(f"Refund {refund.public_id} of {amount} for {escape(customer_name)}: {summary}", TEXT_MAX)
    return text, blocks[:BLOCKS_MAX]


def _mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object Slack takes as written: our own `<url|label>` links work, nothing is auto-linked."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(clip(text, SECTION_MAX))}


def _button(label: str, action_id: str, public_id: str, *, style: str = "") -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": public_id,
    }
    if style:
        button["style"] = style
    return button
