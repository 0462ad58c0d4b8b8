"""Canceling a refund before the provider has been told (SPEC §3.1)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.actor import Actor
from ledger.services import refund_post_reversed
from refunds.enums import DecisionKind, OutboxStatus, RefundState
from refunds.models import Decision, OutboxMessage, PayoutTask, Refund
from refunds.services.common import (
    after_commit_state,
    audit_refund,
    payment_release,
    refund_lock,
    refund_snapshot,
    require_transition,
)


def refund_cancel(*, refund_id: int, actor: Actor, note: str = "") -> Refund:
    """Cancel a refund before it reaches the provider.

    Side effects: state → canceled, reserved amount released, and if it was
    already approved: REFUND_REVERSED ledger entry and the pending outbox row
    canceled (so the provider is never called). The outbox row is locked via
    the refund lock: the delivery task takes the same refund lock before
    calling the provider, so cancel and submit cannot both win.
    """
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        if refund.state == RefundState.CANCELED:
            return refund
        require_transition(refund, refund.cancel, RefundState.CANCELED)
        before = refund_snapshot(refund)
        was_approved = refund.state == RefundState.APPROVED
        refund.cancel()
        refund.save(update_fields=["state", "updated_at"])
        payment_release(payment=payment, amount_minor=refund.amount_minor)
        if was_approved:
            refund_post_reversed(refund=refund)
            OutboxMessage.objects.filter(refund=refund, status=OutboxStatus.PENDING).update(
                status=OutboxStatus.CANCELED, updated_at=timezone.now()
            )
            PayoutTask.objects.filter(refund=refund, status=PayoutTask.STATUS_OPEN).update(
                status=PayoutTask.STATUS_CANCELED
            )
        Decision.objects.create(
            refund=refund, kind=DecisionKind.CANCEL, actor=actor.user, api_key=actor.api_key, note=note
        )
        audit_refund(actor=actor, action="refund.canceled", refund=refund, note=note, before=before)
        after_commit_state(refund, "MSG.refund.canceled")
    return refund
