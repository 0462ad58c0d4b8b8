"""Refunds paid as store credit (issue 15, docs/instruments.md "Store credit"): no provider, ever.

A store-credit refund is decided like any other (policy, people, dual
control). Once approved, nothing leaves the building: in the approving
transaction it moves `approved → submitting → completed` through
`refund_transition`, and the move to `completed` issues the credit and books
it (`credits.services.issue.credit_issue`, called by the transition in place
of the REFUND_SETTLED entry). There is no outbox message to lose or to send
twice, and `submission_open` refuses such a refund should a bug get there.
"""

from __future__ import annotations

from core.actor import Actor
from core.errors import ERR_INSTRUMENT_NOT_ALLOWED, DomainError
from refunds.enums import RefundInstrument, RefundState
from refunds.models import Payment, Refund, RefundPolicy
from refunds.services.transition import refund_transition

S = RefundState
STORE_CREDIT_ACTOR = Actor.system("store_credit")


def store_credit_check_allowed(*, policy: RefundPolicy, instrument: str | None) -> None:
    """Refuse a store-credit request when the policy in force does not offer store credit."""
    if instrument == RefundInstrument.STORE_CREDIT and not policy.store_credit_enabled:
        raise DomainError(ERR_INSTRUMENT_NOT_ALLOWED, instrument=instrument)


def is_store_credit(refund: Refund) -> bool:
    return refund.instrument == RefundInstrument.STORE_CREDIT


def store_credit_settle(*, refund: Refund, payment: Payment) -> None:
    """Complete an approved store-credit refund at once, in the caller's transaction (holding `refund_lock`).

    Side effects, in order: `approved → submitting` (the submission round, as
    for a provider), `submitting → completed` — whose ledger step issues the
    credit and posts STORE_CREDIT_ISSUED — each with its audit event and the
    customer's email on completion (notifications), in this transaction.
    """
    refund_transition(refund, payment=payment, to=S.SUBMITTING, actor=STORE_CREDIT_ACTOR, note="paid as store credit")
    refund_transition(refund, payment=payment, to=S.COMPLETED, actor=STORE_CREDIT_ACTOR, note="store credit issued")
