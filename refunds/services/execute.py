"""Delivering approved refunds to the provider exactly once (SPEC §6).

The outbox row written with the approval is the durable intent. Delivery:

1. claim — lock payment, refund, then the outbox row (the order every service
   uses, so cancel and delivery cannot deadlock); move the refund
   `approved → submitting` (after this, cancel is refused); take a lease;
   commit. The provider is never called inside a transaction.
2. call — `execute_refund` with the message's idempotency key, which is stable
   for the submission: a retry after a timeout, a crash or a redelivered task
   asks the same question again and gets the same refund back.
3. record — apply the outcome and mark the message done in one transaction;
   or, when the outcome is unknown, reschedule with backoff and jitter; after
   the last attempt the message is dead-lettered for finance to replay.

A worker that dies between 1 and 3 leaves a lease that simply runs out; the
sweeper then gives the message to another worker.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_EXCEEDS_REMAINING, DomainError, InvalidTransition
from providers.base import (
    RETRYABLE_FAILURE_CODES,
    IdempotencyMismatch,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.breaker import CircuitBreaker
from providers.registry import get_provider
from refunds.enums import OutboxStatus, RefundState
from refunds.models import OutboxMessage, Refund
from refunds.services.common import after_commit_state, audit_refund, refund_lock, refund_snapshot, require_transition
from refunds.services.outcome import refund_apply_outcome

logger = logging.getLogger("refunds.execute")
S = RefundState


@dataclass(frozen=True)
class Claim:
    message_id: int
    refund_id: int
    public_id: str
    provider: str
    payment_id: str
    amount_minor: int
    currency: str
    idempotency_key: str


def enqueue_delivery(message_id: int, *, countdown: float = 0) -> None:
    """Queue the delivery task once the current transaction commits."""
    from refunds.tasks import deliver_outbox

    transaction.on_commit(lambda: deliver_outbox.apply_async(kwargs={"message_id": message_id}, countdown=countdown))


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, min(cap, base·2^(n-1))]."""
    ceiling = min(settings.OUTBOX_BACKOFF_MAX_SECONDS, settings.OUTBOX_BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return random.uniform(settings.OUTBOX_BACKOFF_BASE_SECONDS / 2, max(ceiling, settings.OUTBOX_BACKOFF_BASE_SECONDS))


def outbox_claim(*, message_id: int) -> Claim | None:
    """Take the message for one delivery attempt, or None if it is not ours to take now."""
    refund_id = OutboxMessage.objects.filter(pk=message_id).values_list("refund_id", flat=True).first()
    if refund_id is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        message = OutboxMessage.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
        if message is None or message.status != OutboxStatus.PENDING or message.available_at > now:
            return None
        if message.lease_expires_at and message.lease_expires_at > now:
            return None  # another worker is calling the provider right now
        if refund.state == S.APPROVED:
            before = refund_snapshot(refund)
            refund.submit()
            refund.submission_count += 1
            refund.submitted_at = now
            refund.save(update_fields=["state", "submission_count", "submitted_at", "updated_at"])
            audit_refund(
                actor=Actor.system("outbox"),
                action="refund.submitted",
                refund=refund,
                note=f"idempotency key {message.idempotency_key}",
                before=before,
            )
            after_commit_state(refund, "MSG.refund.submitted", idempotency_key=message.idempotency_key)
        elif refund.state != S.SUBMITTING:
            # Canceled before submission, or already settled by a webhook: nothing to send.
            message.status = OutboxStatus.CANCELED if refund.state == S.CANCELED else OutboxStatus.DONE
            message.lease_expires_at = None
            message.save(update_fields=["status", "lease_expires_at", "updated_at"])
            return None
        message.attempts += 1
        message.lease_expires_at = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
        message.save(update_fields=["attempts", "lease_expires_at", "updated_at"])
        return Claim(
            message_id=message.pk,
            refund_id=refund.pk,
            public_id=refund.public_id,
            provider=payment.provider,
            payment_id=payment.provider_payment_id,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            idempotency_key=message.idempotency_key,
        )


def outbox_deliver(*, message_id: int) -> str:
    """One delivery attempt of an outbox message; returns what happened (for logs and tests)."""
    claim = outbox_claim(message_id=message_id)
    if claim is None:
        return "skipped"
    breaker = CircuitBreaker(claim.provider)
    if not breaker.allow():
        delay = max(breaker.open_until() - timezone.now().timestamp(), 1.0)
        _release(claim, error="circuit open", delay=delay, count_attempt=False)
        return "deferred"
    try:
        outcome = get_provider(claim.provider).execute_refund(
            payment_id=claim.payment_id,
            amount_minor=claim.amount_minor,
            currency=claim.currency,
            idempotency_key=claim.idempotency_key,
            metadata={"refund_id": claim.public_id},
        )
    except ProviderUnavailable as error:
        breaker.record_failure()
        return _release(claim, error=f"{error.__class__.__name__}: {error}"[:500])
    except IdempotencyMismatch as error:
        breaker.record_success()
        _dead_letter(claim, error=f"idempotency mismatch (bug: key reused with other parameters): {error}")
        return "dead"
    except ProviderRejected as error:
        breaker.record_success()
        outcome = ProviderOutcome(
            status="failed",
            provider_refund_id=None,
            failure_code=error.code,
            retryable=error.code in RETRYABLE_FAILURE_CODES,
            raw=error.raw,
        )
    else:
        breaker.record_success()
    with transaction.atomic():
        refund_apply_outcome(refund_id=claim.refund_id, outcome=outcome, source="api")
        OutboxMessage.objects.filter(pk=claim.message_id).update(
            status=OutboxStatus.DONE, lease_expires_at=None, delivered_at=timezone.now(), updated_at=timezone.now()
        )
    return outcome.status


def _release(claim: Claim, *, error: str, delay: float | None = None, count_attempt: bool = True) -> str:
    """The outcome is unknown: try again later with the same key, or dead-letter after the last attempt."""
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(pk=claim.message_id).first()
        if message is None:
            return "skipped"
        if not count_attempt:
            message.attempts = max(message.attempts - 1, 0)
        elif message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            _dead_letter(claim, error=error)
            return "dead"
        wait = delay if delay is not None else backoff_seconds(message.attempts)
        message.available_at = timezone.now() + timedelta(seconds=wait)
        message.lease_expires_at = None
        message.last_error = error
        message.save(update_fields=["attempts", "available_at", "lease_expires_at", "last_error", "updated_at"])
        enqueue_delivery(message.pk, countdown=wait)
    logger.warning(
        "provider call to retry",
        extra={"message_id": "MSG.refund.submit_retry", "refund_id": claim.public_id, "error": error, "wait_s": wait},
    )
    return "retry"


def _dead_letter(claim: Claim, *, error: str) -> None:
    with transaction.atomic():
        OutboxMessage.objects.filter(pk=claim.message_id).update(
            status=OutboxStatus.DEAD,
            dead_at=timezone.now(),
            lease_expires_at=None,
            last_error=error[:2000],
            updated_at=timezone.now(),
        )
        audit_record(
            actor=Actor.system("outbox"),
            action="outbox.dead_lettered",
            refund=Refund.objects.get(pk=claim.refund_id),
            amount_minor=claim.amount_minor,
            currency=claim.currency,
            note=error[:500],
            flagged=True,
        )
    logger.error(
        "outbox message dead-lettered",
        extra={"message_id": "MSG.outbox.dead_lettered", "refund_id": claim.public_id, "error": error[:500]},
    )


def outbox_replay(*, message_id: int, actor: Actor) -> OutboxMessage:
    """Give a dead-lettered message a fresh set of attempts (finance, after fixing the cause)."""
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().get(pk=message_id)
        if message.status != OutboxStatus.DEAD:
            raise DomainError(
                ERR_CONFLICT_STATE, f"Only dead-lettered messages can be replayed (this one is {message.status})."
            )
        message.status = OutboxStatus.PENDING
        message.attempts = 0
        message.available_at = timezone.now()
        message.dead_at = None
        message.save(update_fields=["status", "attempts", "available_at", "dead_at", "updated_at"])
        audit_record(actor=actor, action="outbox.replayed", refund=message.refund, note=f"message {message.pk}")
        enqueue_delivery(message.pk)
    return message


def refund_submit(*, refund_id: int, actor: Actor) -> Refund:
    """Push an approved refund to the provider now, or retry a retryable failure.

    A retry re-reserves the amount under the payment lock (a failed refund no
    longer held it, and the payment may have been refunded since), moves the
    refund `failed → submitting` and writes a new outbox message whose key is
    new for this submission — the provider's failed refund is final, so the old
    key would only replay the failure. Then one delivery attempt runs inline;
    if a worker holds the message, this returns the state as it is.
    """
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        if refund.state == S.FAILED:
            if not refund.failure_retryable:
                raise InvalidTransition(refund.state, S.SUBMITTING)
            if refund.amount_minor > payment.remaining_refundable_minor:
                raise DomainError(ERR_EXCEEDS_REMAINING, remaining_refundable_minor=payment.remaining_refundable_minor)
            before = refund_snapshot(refund)
            require_transition(refund, refund.submit, S.SUBMITTING)
            refund.submit()
            refund.submission_count += 1
            refund.submitted_at = timezone.now()
            refund.failure_code, refund.failure_retryable = "", False
            refund.save(
                update_fields=[
                    "state", "submission_count", "submitted_at", "failure_code", "failure_retryable", "updated_at",
                ]
            )  # fmt: skip
            payment.refund_reserved_minor += refund.amount_minor
            payment.save(update_fields=["refund_reserved_minor", "updated_at"])
            message = OutboxMessage.objects.create(
                refund=refund,
                topic=OutboxMessage.TOPIC_SUBMIT,
                idempotency_key=f"{refund.public_id}-{refund.submission_count}",
                payload={"refund_id": refund.public_id, "retry_of_failure": before["state"]},
            )
            audit_refund(
                actor=actor,
                action="refund.retry_submitted",
                refund=refund,
                note=f"idempotency key {message.idempotency_key}",
                before=before,
            )
            after_commit_state(refund, "MSG.refund.submitted", idempotency_key=message.idempotency_key)
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
