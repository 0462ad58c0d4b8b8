"""The timeline's plain-language sentences: what happened to a refund, as a person would say it.

An action without a sentence here (one added later) falls back to the
timeline's short title, so the page never breaks for a new event.
"""

from __future__ import annotations

from audit.enums import AuditAction
from audit.models import AuditEvent
from console.presenters.formatting import money
from ledger.enums import EntryType
from refunds.enums import ActorType
from refunds.models import Refund

A = AuditAction

# System actors by the label their service records (core.actor.Actor.system).
_SYSTEM_NAMES = {
    "policy": "The policy",
    "webhook": "The provider",
    "notifier": "The email service",
    "outbox": "The system",
    "payment_check": "The nightly payment check",
    "nightly job": "The nightly job",
}


def who(event: AuditEvent) -> str:
    """'Anna Schmidt', 'anna', 'The policy', 'The provider' … (the actor as a sentence's subject)."""
    if event.actor_type == ActorType.SYSTEM:
        return _SYSTEM_NAMES.get(event.actor_label, "The system")
    user = event.actor_user
    if user is not None:
        return user.get_full_name() or user.get_username()
    return event.actor_label or "Someone"


def _amount(event: AuditEvent, refund: Refund) -> str:
    if event.amount_minor is not None and event.currency:
        return money(event.amount_minor, event.currency)
    return money(refund.amount_minor, refund.currency)


def _after(event: AuditEvent, key: str):
    return event.after.get(key) if isinstance(event.after, dict) else None


def _before(event: AuditEvent, key: str):
    return event.before.get(key) if isinstance(event.before, dict) else None


def audit_sentence(event: AuditEvent, refund: Refund, *, email_subject: str = "", provider_status: str = "") -> str:
    """One sentence for an audit event, or "" when there is none for its action."""
    text = _sentence(event, refund, email_subject=email_subject, provider_status=provider_status)
    return text[:1].upper() + text[1:]  # a username opens the sentence: "Anna …", "Merchant …"


def _sentence(event: AuditEvent, refund: Refund, *, email_subject: str, provider_status: str) -> str:
    name, amount = who(event), _amount(event, refund)
    action = event.action
    if action == A.REFUND_REQUESTED:
        return f"{name} requested a refund of {amount} ({refund.get_reason_display().lower()})."
    if action == A.REFUND_APPROVED:
        if event.actor_type == ActorType.SYSTEM:
            return f"{name} approved the refund of {amount} automatically."
        return f"{name} approved the refund of {amount}."
    if action == A.REFUND_APPROVAL_RECORDED:
        return f"{name} gave a first approval of the refund of {amount}; a second senior must approve too."
    if action == A.REFUND_EDITED:
        return _edit_sentence(event, refund, name)
    if action == A.REFUND_DENIED:
        return f"{name} declined the refund of {amount}."
    if action == A.REFUND_CANCELED:
        return f"{name} canceled the refund of {amount}."
    if action == A.REFUND_EVIDENCE_ATTACHED:
        return f"{name} attached evidence."
    if action == A.NOTIFICATION_SENT:
        return f"The customer was emailed: “{email_subject}”." if email_subject else "The customer was emailed."
    if action == A.NOTIFICATION_FAILED:
        return "The email to the customer could not be sent."
    if action == A.NOTIFICATION_SKIPPED:
        return "No email was sent: the customer has no address on file."
    if action == A.REFUND_SUBMITTED:
        return f"The refund of {amount} was sent to the payment provider."
    if action == A.REFUND_RETRY_SUBMITTED:
        return f"The refund of {amount} was sent to the payment provider again (a new attempt)."
    if action == A.REFUND_PROVIDER_PENDING:
        return "The payment provider is still processing the refund."
    if action == A.REFUND_COMPLETED:
        return f"The payment provider confirmed the refund: {amount} goes back to the customer."
    if action == A.REFUND_FAILED:
        return "The payment provider could not make the refund."
    if action == A.REFUND_PAYOUT_PAID:
        return f"{name} marked the manual payout of {amount} as paid."
    if action == A.OUTBOX_DEAD_LETTERED:
        return "Sending to the payment provider gave up after the last retry; finance has it as a dead letter."
    if action == A.OUTBOX_REPLAYED:
        return f"{name} sent the dead letter to the payment provider again."
    if action == A.WEBHOOK_RECEIVED:
        said = f" the refund is {provider_status}" if provider_status else " about the refund"
        return f"The payment provider told us{said}."
    return ""


def _edit_sentence(event: AuditEvent, refund: Refund, name: str) -> str:
    before, after = _before(event, "amount_minor"), _after(event, "amount_minor")
    parts = []
    if isinstance(before, int) and isinstance(after, int) and before != after:
        parts.append(f"changed the amount from {money(before, refund.currency)} to {money(after, refund.currency)}")
    if _before(event, "draft_reply") != _after(event, "draft_reply") and _after(event, "draft_reply") is not None:
        parts.append("rewrote the reply to the customer")
    return f"{name} {' and '.join(parts) or 'edited the refund'}."


_LEDGER_SENTENCES = {
    EntryType.REFUND_PENDING: "{amount} was set aside in the books for the refund.",
    EntryType.REFUND_SETTLED: "{amount} was booked as paid back to the customer.",
    EntryType.REFUND_REVERSED: "{amount} set aside for the refund was released in the books.",
    EntryType.VOID_PENDING: "{amount} was set aside in the books for the void.",
    EntryType.VOID_RELEASED: "{amount} was booked as an authorization released (no money moved).",
    EntryType.VOID_REVERSED: "{amount} set aside for the void was released in the books.",
}


def ledger_sentence(entry_type: str, amount: str) -> str:
    return _LEDGER_SENTENCES.get(entry_type, "The books recorded {amount}.").format(amount=amount)
