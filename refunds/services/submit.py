"""Sending a refund to its provider now (`POST /v1/refunds/{id}/submit`), or again after a retryable failure."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.enums import AuditAction
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, DomainError, InvalidTransition
from providers.registry import provider_class
from refunds.enums import OutboxStatus, RefundState
from refunds.models import OutboxMessage, Refund
from refunds.permissions import RESOLVE_FAILED_MESSAGE, Perm, merchant_refusal, require_perm
from refunds.services.outbox import WITHDRAWN_PAYMENT_ERRORS, outbox_deliver, submission_key, submission_open
from refunds.services.transition import refund_lock, refund_transition

S = RefundState


def refund_submit(*, refund_id: int, actor: Actor) -> Refund:
    """Push an approved refund to the provider now, or retry a retryable failure.

    A retry moves the refund `failed → submitting` (which reserves the amount
    again under the payment lock — refused if the payment was refunded since —
    and starts a new submission round), audited as `refund.retry_submitted`,
    with an outbox message whose key is new for the round: the provider's
    failed refund is final, so the old key would only replay the failure. A
    retry is refused (422, as at creation) once the payment was charged back or
    voided. Then one delivery attempt runs inline; if a worker holds the message, this
    returns the state as it is.
    """
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        if (refusal := merchant_refusal(refund, actor)) is not None:
            raise refusal
        if provider_class(payment.provider).settles_by_hand:
            # Nothing to push: finance pays these out and marks the payout task paid.
            raise DomainError(ERR_CONFLICT_STATE, "This refund is paid out by hand: mark its payout paid.")
        if refund.state == S.FAILED:
            if actor.type == "user":
                # Staff retry from Needs action (issue 12); a merchant's key has its `refunds:submit` scope.
                require_perm(actor.user, Perm.RESOLVE_FAILED, RESOLVE_FAILED_MESSAGE)
            if payment.status in WITHDRAWN_PAYMENT_ERRORS:
                # Charged back or voided since: a retry would pay back money the customer already has.
                raise DomainError(WITHDRAWN_PAYMENT_ERRORS[payment.status], payment_status=payment.status)
            key = submission_key(refund, refund.submission_count + 1)
            refund_transition(
                refund,
                payment=payment,
                to=S.SUBMITTING,
                actor=actor,
                action=AuditAction.REFUND_RETRY_SUBMITTED,
                note=f"idempotency key {key}",
                log={"idempotency_key": key},
            )
            message = submission_open(refund=refund, payment=payment, round_=refund.submission_count)
        elif refund.state == S.APPROVED:
            message = OutboxMessage.objects.filter(refund=refund, status=OutboxStatus.PENDING).first()
            if message is None:
                raise DomainError(ERR_CONFLICT_STATE, "This refund has no pending provider message.")
        elif refund.state in (S.SUBMITTING, S.PROVIDER_PENDING):
            return refund  # already on its way
        else:
            raise InvalidTransition(refund.state, S.SUBMITTING)
    OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
    outbox_deliver(message_id=message.pk)
    return Refund.objects.get(pk=refund_id)
