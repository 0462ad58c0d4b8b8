"""Applying what the provider says about a refund (SPEC §3.1, §6).

One function for every source — the delivery task's own call, a webhook, a
poll — so "a provider answer never moves a refund backwards" is decided in
one place, under the refund's row lock.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.actor import Actor
from ledger.services import refund_post_reversed, refund_post_settled
from providers.base import ProviderOutcome
from refunds.enums import RefundState
from refunds.models import Refund
from refunds.services.common import after_commit_state, audit_refund, payment_release, refund_lock, refund_snapshot

S = RefundState
# Where each outcome may move a refund from. Anything else is late or repeated news.
_MOVES = {
    "succeeded": {S.SUBMITTING, S.PROVIDER_PENDING},
    "pending": {S.SUBMITTING},
    "failed": {S.SUBMITTING, S.PROVIDER_PENDING},
}


def refund_apply_outcome(*, refund_id: int, outcome: ProviderOutcome, source: str) -> tuple[Refund, bool]:
    """Move a submitted refund according to a provider outcome; return (refund, applied).

    Side effects when applied, in order, in one transaction: the provider
    refund id and status on the refund; the transition (`provider_pending`,
    `completed` with the REFUND_SETTLED entry, or `failed` — releasing the
    reserved amount, and REFUND_REVERSED when the failure is terminal); the
    audit event `refund.<state>` citing `source`. An outcome that would move the
    refund backwards or sideways (late/repeated webhook, answer after a
    webhook) changes nothing and returns applied=False.
    """
    actor = Actor.system(f"provider:{source}")
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        before = refund_snapshot(refund)
        fields = ["updated_at"]
        if outcome.provider_refund_id and not refund.provider_refund_id:
            refund.provider_refund_id = outcome.provider_refund_id
            fields.append("provider_refund_id")
        if refund.state not in _MOVES[outcome.status]:
            if len(fields) > 1:
                refund.save(update_fields=fields)
            return refund, False
        refund.provider_status = str(outcome.raw.get("status") or outcome.status)[:30]
        fields.append("provider_status")
        if outcome.status == "pending":
            refund.mark_provider_pending()
            message_id = "MSG.refund.provider_pending"
        elif outcome.status == "succeeded":
            refund.complete()
            refund.completed_at = timezone.now()
            fields.append("completed_at")
            refund_post_settled(refund=refund)
            message_id = "MSG.refund.completed"
        else:
            refund.fail()
            refund.failure_code = outcome.failure_code or "unknown"
            refund.failure_retryable = outcome.retryable
            fields += ["failure_code", "failure_retryable"]
            # `failed` no longer holds money against the payment (SPEC §3).
            payment_release(payment=payment, amount_minor=refund.amount_minor)
            if not outcome.retryable:
                refund_post_reversed(refund=refund)
            message_id = "MSG.refund.failed"
        fields.append("state")
        refund.save(update_fields=fields)
        audit_refund(
            actor=actor,
            action=f"refund.{refund.state}",
            refund=refund,
            before=before,
            note=f"{source}: provider refund {refund.provider_refund_id or '-'} {refund.provider_status}"
            + (
                f", failure {refund.failure_code} (retryable: {refund.failure_retryable})"
                if refund.failure_code
                else ""
            ),
        )
        after_commit_state(refund, message_id, source=source, provider_refund_id=refund.provider_refund_id)
    return refund, True
