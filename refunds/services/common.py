"""Pieces every refund service shares: locking, snapshots, after-commit effects."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Subquery

from core.errors import ERR_AUTHZ_ROLE, ERR_NOT_FOUND, DomainError, InvalidTransition
from refunds.metrics import REFUND_OUTCOME_TOTAL
from refunds.models import Payment, Refund

logger = logging.getLogger("refunds")


def refund_lock(*, refund_id: int) -> tuple[Refund, Payment]:
    """Lock a refund and its payment, payment first.

    Every service that touches both takes the locks in this order (payment,
    then refund) — the same order as refund creation — so two services can
    never deadlock on each other. Must run inside a transaction.
    """
    # The payment is found through a subquery so locking it costs one round trip;
    # a refund's payment never changes, so the subquery cannot race.
    refund_payment = Refund.objects.filter(pk=refund_id).values("payment_id")[:1]
    payment = Payment.objects.select_for_update().filter(pk=Subquery(refund_payment)).first()
    if payment is None:
        raise DomainError(ERR_NOT_FOUND)
    # of=("self",): lock the refund row only. Without it PostgreSQL also locks
    # the joined order and the (shared) policy row FOR UPDATE, which blocks
    # every refund insert's foreign-key check on that policy — and deadlocks.
    refund = Refund.objects.select_for_update(of=("self",)).select_related("order", "policy_version").get(pk=refund_id)
    return refund, payment


def require_transition(refund: Refund, transition, target: str) -> None:
    from django_fsm import can_proceed

    if not can_proceed(transition):
        raise InvalidTransition(refund.state, target)


def require_perm(user, perm: str, message: str | None = None) -> None:
    if user is None or not user.is_active or not user.has_perm(perm):
        raise DomainError(ERR_AUTHZ_ROLE, message)


def refund_snapshot(refund: Refund) -> dict:
    return {
        "state": refund.state,
        "amount_minor": refund.amount_minor,
        "currency": refund.currency,
        "reason": refund.reason,
        "policy_outcome": refund.policy_outcome,
        "policy_rule": refund.policy_rule,
        "approvals_required": refund.approvals_required,
        "draft_reply": refund.draft_reply,
        "provider_refund_id": refund.provider_refund_id,
    }


def audit_refund(*, actor, action: str, refund: Refund, before: dict | None = None, note: str = "", **fields):
    """Audit a change to one refund with its amount and before/after snapshots.

    For services that hold the refund's row lock (see `refund_lock`), so the
    snapshots are the refund's real before and after.
    """
    from audit.services import audit_record

    return audit_record(
        actor=actor,
        action=action,
        refund=refund,
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        note=note,
        before=before,
        after=refund_snapshot(refund) if before is not None else None,
        **fields,
    )


def payment_release(*, payment: Payment, amount_minor: int) -> None:
    """Give `amount_minor` back to the payment's remaining refundable (caller holds the lock)."""
    payment.refund_reserved_minor -= amount_minor
    payment.save(update_fields=["refund_reserved_minor", "updated_at"])


def after_commit_state(refund: Refund, message_id: str, **fields) -> None:
    """Log the message id and count the outcome once the transaction is durable.

    Also queues the customer email this state change calls for (if any), again
    only after commit: a rolled-back change tells nobody, and a mail or broker
    outage cannot roll back or fail the change (see refunds/notifications.py).
    """
    # Imported lazily: notifications pulls in audit, templates and the status selectors,
    # none of which the services' own import graph should depend on.
    from notifications.emails import notification_enqueue_on_commit

    state = refund.state
    extra = {
        "message_id": message_id,
        "refund_id": refund.public_id,
        "state": state,
        "amount_minor": refund.amount_minor,
        "currency": refund.currency,
        **fields,
    }

    def _emit() -> None:
        REFUND_OUTCOME_TOTAL.labels(state=state).inc()
        logger.info(message_id, extra=extra)

    transaction.on_commit(_emit)
    notification_enqueue_on_commit(refund=refund, state_message_id=message_id)
