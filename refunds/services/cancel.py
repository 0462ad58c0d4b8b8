"""Canceling a refund before the provider has been told (SPEC §3.1)."""

from __future__ import annotations

from django.db import transaction

from core.actor import Actor
from refunds.enums import DecisionKind, RefundState
from refunds.models import Decision, Refund
from refunds.permissions import cancel_refusal
from refunds.services.outbox import submission_close
from refunds.services.transition import refund_lock, refund_transition


def refund_cancel(*, refund_id: int, actor: Actor, note: str = "") -> Refund:
    """Cancel a refund before it reaches the provider.

    Side effects: the move to `canceled` (the reserved amount released; after
    approval also REFUND_REVERSED), the pending submission closed (outbox
    message or payout task canceled, so the provider is never called), a
    Decision(cancel). The delivery task takes the same refund lock before
    calling the provider, and moves the refund to `submitting` under it, so
    cancel and submit cannot both win. A refund already canceled is returned unchanged.
    Who may cancel is `refunds.permissions.cancel_refusal`: the refund's own
    merchant (another merchant's key is told the refund does not exist), staff
    with the decide permission, or the system.
    """
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        refusal = cancel_refusal(refund, actor)
        if refusal is not None:
            raise refusal
        if refund.state == RefundState.CANCELED:
            return refund
        was_approved = refund.state == RefundState.APPROVED
        refund_transition(refund, payment=payment, to=RefundState.CANCELED, actor=actor, note=note)
        if was_approved:
            submission_close(refund=refund)
        Decision.objects.create(
            refund=refund, kind=DecisionKind.CANCEL, actor=actor.user, api_key=actor.api_key, note=note
        )
    return refund
