"""The writer of events: what each refund change is called for merchants, written in the change's transaction.

Receivers of `refund_changing` (every move) and `refund_revised` (an edit
under review). They run INSIDE the change's transaction (refunds.signals), so
the event commits or rolls back with the change; an exception here rolls the
change back, which is why they make a few small writes and no network call.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from audit.enums import AuditAction
from events.documents import refund_document, requested_document
from events.enums import EventType
from events.writer import event_write
from refunds.enums import RefundState
from refunds.models import Refund
from refunds.signals import refund_changing, refund_revised

S = RefundState

# The state a refund enters -> the event its merchant is told (docs/webhooks.md "Event types").
STATE_EVENT_TYPES: dict[str, EventType] = {
    S.REQUESTED: EventType.CREATED,
    S.APPROVED: EventType.APPROVED,
    S.DENIED: EventType.DENIED,
    S.SUBMITTING: EventType.SUBMITTED,
    S.PROVIDER_PENDING: EventType.UPDATED,
    S.COMPLETED: EventType.COMPLETED,
    S.FAILED: EventType.FAILED,
    S.CANCELED: EventType.CANCELED,
}


def event_type_for(refund: Refund, state: str) -> EventType:
    """The event of a refund entering `state`; a completed refund failing afterwards is a reversal."""
    if state == S.FAILED and refund.reversed_by_provider:
        return EventType.REVERSED
    return STATE_EVENT_TYPES[state]


def document_at(refund: Refund, state: str) -> dict[str, Any]:
    """The refund's document as it stood when it entered `state`.

    Usually the refund as the transaction leaves it now. A refund enters
    `requested` only when it is created, and one approved by the policy at its
    creation enters `requested` and `approved` in one write
    (refunds.services.transition.refund_open): its `refund.created` shows it
    as it was requested — before the approval's decision time and ledger entry.
    """
    return refund_document(refund, requested=state == S.REQUESTED)


@receiver(refund_changing, dispatch_uid="events.write_refund_event")
def write_refund_event(
    sender: type[Refund], *, refund: Refund, event: AuditAction, state: str, more: bool = False, **kwargs: Any
) -> None:
    """The event of the move; with `more` (another move of the same change follows, in the same `_record`:
    a refund the policy approved at its creation), its events are written together with the last one's.

    Together: rendered from one document (`requested_document` derives the
    `requested` one from it: nothing changes the refund between the signals
    of one change), and written as one statement (events.writer).
    """
    waiting = refund.__dict__.setdefault("_events_waiting", [])
    waiting.append((event_type_for(refund, state), state))
    if more:
        return
    del refund.__dict__["_events_waiting"]
    full = None
    for event_type, at_state in waiting:
        if at_state == S.REQUESTED and len(waiting) == 1:
            data = document_at(refund, at_state)
        else:
            full = full if full is not None else refund_document(refund)
            data = requested_document(full) if at_state == S.REQUESTED else full
        event_write(refund=refund, event_type=event_type, data=data)


@receiver(refund_revised, dispatch_uid="events.write_refund_edited")
def write_refund_edited(sender: type[Refund], *, refund: Refund, event: AuditAction, **kwargs: Any) -> None:
    # An edit changes what the merchant's copy says (amount, reply); a first of two approvals does not.
    if event == AuditAction.REFUND_EDITED:
        event_write(refund=refund, event_type=EventType.UPDATED, data=refund_document(refund))
