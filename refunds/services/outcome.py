"""Applying what the provider says about a refund (SPEC §3.1, §6).

One function for every source — the delivery task's own call, a webhook, a
poll — so "a provider answer never moves a refund backwards" is decided in
one place, under the refund's row lock.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.enums import AuditAction
from core.actor import Actor
from providers.base import ProviderOutcome
from refunds.enums import RefundInstrument, RefundState
from refunds.models import Refund
from refunds.services.transition import refund_lock, refund_transition

S = RefundState
# Where each outcome may move a refund from, and to. Anything else is late or repeated news.
# `failed` of a completed refund is a provider reversal (issue 12): the provider failed the refund
# after it had succeeded (the card issuer returned it). Failing is never going backwards: a refund
# the provider reports failed must not stay `completed` and settled.
_MOVES: dict[str, tuple[frozenset[str], RefundState]] = {
    "succeeded": (frozenset({S.SUBMITTING, S.PROVIDER_PENDING}), S.COMPLETED),
    "pending": (frozenset({S.SUBMITTING}), S.PROVIDER_PENDING),
    "failed": (frozenset({S.SUBMITTING, S.PROVIDER_PENDING, S.COMPLETED}), S.FAILED),
}


def refund_apply_outcome(
    *, refund_id: int, outcome: ProviderOutcome, source: str, occurred_at: datetime | None = None
) -> tuple[Refund, bool]:
    """Move a submitted refund according to a provider outcome; return (refund, applied).

    Side effects when applied, in one transaction: the provider refund id and
    status on the refund, and the move (`refund_transition`: `provider_pending`;
    `completed` with REFUND_SETTLED; or `failed`, which releases the amount and,
    when terminal, posts REFUND_REVERSED), audited as `refund.<state>` citing
    `source`. `failed` for a completed refund is a provider reversal: never
    retryable (the money came back from the customer's bank; the same attempt
    would only come back again), REFUND_SETTLEMENT_REVERSED then
    REFUND_REVERSED, audited as `refund.provider_reversed` and flagged; the
    customer gets the reversal email and the refund lands in Needs action.
    An outcome that would move the refund backwards or sideways
    (late/repeated webhook, answer after a webhook) changes nothing but a
    newly learnt provider refund id, and returns applied=False.
    `occurred_at` is the provider's time of the outcome (a webhook's event
    time): the settlement is dated then, and booked into the next open month
    when that month is closed.
    """
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        if outcome.provider_refund_id and outcome.provider_refund_id in (refund.earlier_provider_refund_ids or []):
            return refund, False  # news of an earlier round's provider refund: this round is another one
        # Learnt from this answer if we did not know it (a timeout can hide the id until a webhook or poll).
        provider_refund_id = refund.provider_refund_id or outcome.provider_refund_id
        sources, target = _MOVES[outcome.status]
        # A released hold is never taken back: a completed void has no provider reversal.
        void_done = refund.instrument == RefundInstrument.VOID and refund.state == S.COMPLETED
        if refund.state not in sources or void_done:
            if provider_refund_id != refund.provider_refund_id:
                refund.provider_refund_id = provider_refund_id
                refund.save(update_fields=["provider_refund_id", "updated_at"])
            return refund, False
        changes = {
            "provider_refund_id": provider_refund_id,
            "provider_status": str(outcome.raw.get("status") or outcome.status)[:30],
        }
        if target == S.COMPLETED:
            changes["completed_at"] = timezone.now()
        elif target == S.FAILED:
            changes["failure_code"] = outcome.failure_code or "unknown"
            changes["failure_retryable"] = outcome.retryable
        reversal = refund.state == S.COMPLETED
        if reversal:
            changes["failure_retryable"] = False
        failure = (
            f", failure {changes['failure_code']} (retryable: {changes['failure_retryable']})"
            if target == S.FAILED
            else ""
        )
        refund_transition(
            refund,
            payment=payment,
            to=target,
            actor=Actor.system(f"provider:{source}"),
            action=AuditAction.REFUND_PROVIDER_REVERSED if reversal else None,
            note=(
                f"{source}: provider refund {provider_refund_id or '-'} {changes['provider_status']}{failure}"
                + (" after it had succeeded: settlement reversed" if reversal else "")
            ),
            changes=changes,
            audit={"flagged": True} if reversal else None,
            log={"source": source, "provider_refund_id": provider_refund_id, "reversal": reversal},
            occurred_at=occurred_at,
        )
    return refund, True
