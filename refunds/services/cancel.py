"""Canceling a refund before the provider has been told (SPEC §3.1), or after it failed there (issue 12)."""

from __future__ import annotations

from django.db import transaction

from audit.enums import AuditAction
from core.actor import Actor
from core.errors import InvalidTransition
from refunds.enums import DecisionKind, RefundState
from refunds.models import Decision, Refund
from refunds.permissions import RESOLVE_FAILED_MESSAGE, Perm, cancel_refusal, merchant_refusal, require_perm
from refunds.services.outbox import submission_close
from refunds.services.transition import refund_lock, refund_transition


def refund_cancel(*, refund_id: int, actor: Actor, note: str = "") -> Refund:
    """Cancel a refund before it reaches the provider, or give up on one that failed there.

    Side effects: the move to `canceled` (the reserved amount released; after
    approval also REFUND_REVERSED), the pending submission closed (outbox
    message or payout task canceled, so the provider is never called), a
    Decision(cancel). The delivery task takes the same refund lock before
    calling the provider, and moves the refund to `submitting` under it, so
    cancel and submit cannot both win. A refund already canceled is returned unchanged.
    Who may cancel is `refunds.permissions.cancel_refusal`: the refund's own
    merchant (another merchant's key is told the refund does not exist), staff
    with the decide permission, or the system.

    A failed refund (Needs action, "cancel and notify") is canceled only by
    staff holding `resolve_failed` — an API key is refused as before (its
    contract: cancel only before submission). Its failure code stays, audited
    as `refund.failure_canceled`; the customer, who was told support would be
    in touch, gets the cancel email (notifications.emails); REFUND_REVERSED is
    posted if the failure had kept REFUND_PENDING (a retryable one).
    """
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        from_failed = refund.state == RefundState.FAILED
        refusal = merchant_refusal(refund, actor) if from_failed else cancel_refusal(refund, actor)
        if refusal is not None:
            raise refusal
        if refund.state == RefundState.CANCELED:
            return refund
        if from_failed:
            if actor.type != "user":
                raise InvalidTransition(refund.state, RefundState.CANCELED)
            require_perm(actor.user, Perm.RESOLVE_FAILED, RESOLVE_FAILED_MESSAGE)
        was_approved = refund.state == RefundState.APPROVED
        refund_transition(
            refund,
            payment=payment,
            to=RefundState.CANCELED,
            actor=actor,
            action=AuditAction.REFUND_FAILURE_CANCELED if from_failed else None,
            note=note,
        )
        if was_approved:
            submission_close(refund=refund)
        Decision.objects.create(
            refund=refund, kind=DecisionKind.CANCEL, actor=actor.user, api_key=actor.api_key, note=note
        )
    return refund
