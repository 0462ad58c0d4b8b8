"""Manual payouts (PROVIDER=manual): finance pays and records the reference (SPEC §6)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from ledger.services import refund_post_settled
from refunds.enums import RefundState
from refunds.models import PayoutTask, Refund
from refunds.services.common import (
    after_commit_state,
    audit_refund,
    refund_lock,
    refund_snapshot,
    require_perm,
    require_transition,
)

PERM_PAYOUT = "refunds.mark_payout_paid"


def payout_mark_paid(*, refund_id: int, actor: Actor, reference: str) -> Refund:
    """Record that finance paid a refund by hand; this completes it.

    Side effects, in order, in one transaction: the payout task → paid with
    the reference and who; refund `approved → submitting → completed` (the
    payout is the submission); REFUND_SETTLED; audit `refund.payout_paid`.
    Marking the same payout paid again returns the refund unchanged.
    """
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(ERR_VALIDATION, "A payout reference (bank or cash reference) is required.")
    require_perm(actor.user, PERM_PAYOUT)
    with transaction.atomic():
        refund, _payment = refund_lock(refund_id=refund_id)
        task = PayoutTask.objects.select_for_update().filter(refund=refund).first()
        if task is None:
            raise DomainError(ERR_CONFLICT_STATE, "This refund has no manual payout task.")
        if task.status == PayoutTask.STATUS_PAID:
            return refund
        if task.status != PayoutTask.STATUS_OPEN:
            raise DomainError(ERR_CONFLICT_STATE, f"The payout task is {task.status}.")
        before = refund_snapshot(refund)
        require_transition(refund, refund.submit, RefundState.SUBMITTING)
        # Two saves: the state-machine trigger checks every UPDATE against one edge.
        refund.submit()
        refund.save(update_fields=["state", "updated_at"])
        refund.complete()
        now = timezone.now()
        refund.submission_count += 1
        refund.submitted_at = refund.completed_at = now
        refund.provider_refund_id = f"manual_{refund.public_id}"
        refund.provider_status = "paid"
        refund.save(
            update_fields=[
                "state", "submission_count", "submitted_at", "completed_at", "provider_refund_id", "provider_status",
                "updated_at",
            ]
        )  # fmt: skip
        task.status, task.reference, task.paid_by, task.paid_at = PayoutTask.STATUS_PAID, reference, actor.user, now
        task.save(update_fields=["status", "reference", "paid_by", "paid_at"])
        refund_post_settled(refund=refund)
        audit_refund(
            actor=actor, action="refund.payout_paid", refund=refund, note=f"reference {reference}", before=before
        )
        after_commit_state(refund, "MSG.refund.completed", source="manual_payout")
    return refund
