"""Manual payouts (providers that settle by hand): finance pays and records the reference (SPEC §6)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.enums import AuditAction
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from refunds.enums import PayoutStatus, RefundState
from refunds.models import PayoutTask, Refund
from refunds.permissions import Perm, merchant_refusal, require_perm
from refunds.services.transition import refund_lock, refund_transition


def payout_mark_paid(*, refund_id: int, actor: Actor, reference: str) -> Refund:
    """Record that finance paid a refund by hand; this completes it.

    Side effects, in order, in one transaction: the payout task → paid with
    the reference and who; the refund `approved → submitting` (the payout is
    the submission; audit `refund.submitted`) `→ completed` (REFUND_SETTLED;
    audit `refund.payout_paid`). Marking the same payout paid again returns the
    refund unchanged.
    """
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(ERR_VALIDATION, "A payout reference (bank or cash reference) is required.")
    require_perm(actor.user, Perm.MARK_PAYOUT_PAID)
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        if (refusal := merchant_refusal(refund, actor)) is not None:
            raise refusal
        task = PayoutTask.objects.select_for_update().filter(refund=refund).first()
        if task is None:
            raise DomainError(ERR_CONFLICT_STATE, "This refund has no manual payout task.")
        if task.status == PayoutStatus.PAID:
            return refund
        if task.status != PayoutStatus.OPEN:
            raise DomainError(ERR_CONFLICT_STATE, f"The payout task is {task.status}.")
        now = timezone.now()
        task.status, task.reference, task.paid_by, task.paid_at = PayoutStatus.PAID, reference, actor.user, now
        task.save(update_fields=["status", "reference", "paid_by", "paid_at"])
        note = f"reference {reference}"
        refund_transition(refund, payment=payment, to=RefundState.SUBMITTING, actor=actor, note=note)
        refund_transition(
            refund,
            payment=payment,
            to=RefundState.COMPLETED,
            actor=actor,
            action=AuditAction.REFUND_PAYOUT_PAID,
            note=note,
            changes={
                "completed_at": now,
                "provider_refund_id": f"manual_{refund.public_id}",
                "provider_status": "paid",
            },
            log={"source": "manual_payout"},
        )
    return refund
