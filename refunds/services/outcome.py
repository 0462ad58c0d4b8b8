"""Applying what the provider says about a refund (SPEC §3.1, §6).

One function for every source — the delivery task's own call, a webhook, a
poll — so "a provider answer never moves a refund backwards" is decided in
one place, under the refund's row lock.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.actor import Actor
from providers.base import ProviderOutcome
from refunds.enums import RefundState
from refunds.models import Refund
from refunds.services.transition import refund_lock, refund_transition

S = RefundState
# Where each outcome may move a refund from, and to. Anything else is late or repeated news.
_MOVES: dict[str, tuple[frozenset[str], RefundState]] = {
    "succeeded": (frozenset({S.SUBMITTING, S.PROVIDER_PENDING}), S.COMPLETED),
    "pending": (frozenset({S.SUBMITTING}), S.PROVIDER_PENDING),
    "failed": (frozenset({S.SUBMITTING, S.PROVIDER_PENDING}), S.FAILED),
}


def refund_apply_outcome(
    *, refund_id: int, outcome: ProviderOutcome, source: str, occurred_at: datetime | None = None
) -> tuple[Refund, bool]:
    """Move a submitted refund according to a provider outcome; return (refund, applied).

    Side effects when applied, in one transaction: the provider refund id and
    status on the refund, and the move (`refund_transition`: `provider_pending`;
    `completed` with REFUND_SETTLED; or `failed`, which releases the amount and,
    when terminal, posts REFUND_REVERSED), audited as `refund.<state>` citing
    `source`. An outcome that would move the refund backwards or sideways
    (late/repeated webhook, answer after a webhook) changes nothing but a
    newly learnt provider refund id, and returns applied=False.
    `occurred_at` is the provider's time of the outcome (a webhook's event
    time): the settlement is dated then, and booked into the next open month
    when that month is closed.
    """
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        # Learnt from this answer if we did not know it (a timeout can hide the id until a webhook or poll).
        provider_refund_id = refund.provider_refund_id or outcome.provider_refund_id
        sources, target = _MOVES[outcome.status]
        if refund.state not in sources:
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
        failure = f", failure {changes['failure_code']} (retryable: {outcome.retryable})" if target == S.FAILED else ""
        refund_transition(
            refund,
            payment=payment,
            to=target,
            actor=Actor.system(f"provider:{source}"),
            note=f"{source}: provider refund {provider_refund_id or '-'} {changes['provider_status']}{failure}",
            changes=changes,
            log={"source": source, "provider_refund_id": provider_refund_id},
            occurred_at=occurred_at,
        )
    return refund, True
