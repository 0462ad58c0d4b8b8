"""Carrying approved refunds to their provider exactly once (SPEC §6): the outbox, whole.

Opening a submission writes the durable intent in the transaction that
decided it: an outbox message for a provider with an API, or a payout task for
one that settles by hand (`Provider.settles_by_hand`). An approved refund can
therefore never be lost between the database and the queue. Delivery:

1. claim — lock payment, refund, then the outbox row (the order every service
   uses, so cancel and delivery cannot deadlock); move the refund
   `approved → submitting` (after this, cancel is refused); take a lease;
   commit. The provider is never called inside a transaction.
2. call — `execute_refund` (a void: `void_payment`, refunds.services.void)
   with the message's idempotency key, which is stable
   for the submission round: a retry after a timeout, a crash or a redelivered
   task asks the same question again and gets the same refund back.
3. record — apply the outcome and mark the message done in one transaction;
   or, when the outcome is unknown, reschedule with backoff and jitter; after
   the last attempt the message is dead-lettered for finance to replay.

A worker that dies between 1 and 3 leaves a lease that simply runs out; the
sweeper (beat) then gives the message to another worker. The Celery tasks live
here, beside what they run, so queueing a delivery needs no import cycle.

At most one delivery task per message is queued (issue 11): `queued_until`
is set in the transaction that decides to queue, and says "a task for this
message is in the broker (or held by a worker until its countdown) and should
have run by then". The claim consumes it; the sweeper queues only messages
without a live one. A task that never arrives (broker lost it, a worker died
holding it) leaves a marker that runs out after OUTBOX_QUEUED_TTL_SECONDS, and
the sweeper queues another; a publish that fails clears its marker at once.
Queueing is best effort (`core.queueing`): a committed refund is never
answered with a broker error.

With OUTBOX_HANDOFF=relay (core.handoff) no transaction here publishes: a
message is written unmarked, a retry only moves `available_at` (and wakes the
relay), and `manage.py outbox_relay` queues what is due through
`outbox_sweep`, the same marked, SKIP LOCKED path as beat's sweeper.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, OperationalError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CHARGED_BACK, ERR_CONFLICT_STATE, ERR_VOIDED, DomainError
from core.handoff import relay_mode, relay_wake
from core.queueing import backoff_with_jitter, enqueue_best_effort
from core.telemetry import current_trace_context, span_in_stored_trace
from core.write_batch import batching, insert_rows
from providers.base import (
    RETRYABLE_FAILURE_CODES,
    IdempotencyMismatch,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.breaker import CircuitBreaker
from providers.registry import get_provider, provider_class
from refunds.enums import (
    PAYMENT_WITHDRAWN_FAILURE_CODES,
    PAYMENT_WITHDRAWN_STATUSES,
    OutboxStatus,
    OutboxTopic,
    PauseKind,
    PaymentStatus,
    PayoutStatus,
    RefundInstrument,
    RefundState,
)
from refunds.metrics import outbox_attempt
from refunds.models import OutboxMessage, Payment, PayoutTask, Refund
from refunds.services.outcome import refund_apply_outcome
from refunds.services.pause_reads import exclude_held, pause_in_force
from refunds.services.transition import refund_lock, refund_transition

logger = logging.getLogger("refunds.services.outbox")
_TABLE = OutboxMessage._meta.db_table
S = RefundState
OUTBOX_ACTOR = Actor.system("outbox")
# The refusal a charged-back or voided payment answers, at creation (refunds.services.request) and later.
WITHDRAWN_PAYMENT_ERRORS: dict[str, str] = {
    PaymentStatus.CHARGED_BACK: ERR_CHARGED_BACK,
    PaymentStatus.VOIDED: ERR_VOIDED,
}


def submission_key(refund: Refund, round_: int) -> str:
    """The idempotency key the provider sees for submission round `round_` of a refund.

    Stable per round, so every retry of one round is deduplicated by the
    provider; new per round, because a failed provider refund is final and
    its key would only replay the failure.
    """
    return f"{refund.public_id}-{round_}"


def submission_open(*, refund: Refund, payment: Payment, round_: int) -> OutboxMessage | PayoutTask:
    """Write what carries round `round_` of `refund` to its provider; delivery is queued on commit.

    A provider that settles by hand gets a payout task for finance (the refund
    waits `approved` until it is marked paid); any other an outbox message.
    Runs inside the caller's transaction, holding the refund lock. A refund
    paid as store credit never reaches a provider: refused (a bug got here).
    """
    if refund.instrument == RefundInstrument.STORE_CREDIT:
        raise DomainError(ERR_CONFLICT_STATE, "A store-credit refund is never sent to a provider.")
    if provider_class(payment.provider).settles_by_hand:
        return PayoutTask.objects.create(refund=refund)
    if round_ > 1:
        # Earlier rounds' calls that were given up are closed: this round replaces them, and
        # sending one now would ask the provider for a second refund (Needs action drops them too).
        OutboxMessage.objects.filter(refund=refund, status__in=[OutboxStatus.DEAD, OutboxStatus.PENDING]).update(
            status=OutboxStatus.CANCELED,
            updated_at=timezone.now(),
            last_error=f"superseded by submission round {round_}",
        )
    # Relay mode: unmarked and nothing published; the INSERT's trigger wakes the relay at commit.
    relay = relay_mode()
    until = None if relay else queued_until(countdown=0)
    message = OutboxMessage(
        refund=refund,
        topic=OutboxTopic.SUBMIT,
        idempotency_key=submission_key(refund, round_),
        payload={"refund_id": refund.public_id, "round": round_},
        queued_until=until,  # marked in the INSERT: a create costs no extra statement
        # The request's trace (empty with tracing off): every delivery attempt rejoins it (deliver_outbox).
        trace_context=current_trace_context(),
    )
    if batching():
        # One INSERT now, or with the approval's other writes (core.write_batch: a create's); its task is
        # published on commit as below, once the row's id is known (before COMMIT).
        then = None if until is None else lambda: _publish_on_commit([message.pk], countdown=0, until=until)
        insert_rows([message], then=then)
    else:
        message.save(force_insert=True)
        if until is not None:
            _publish_on_commit([message.pk], countdown=0, until=until)
    return message


def submission_close(*, refund: Refund) -> None:
    """The refund will not be sent (canceled before submission): stop what would have sent it."""
    now = timezone.now()
    OutboxMessage.objects.filter(refund=refund, status=OutboxStatus.PENDING).update(
        status=OutboxStatus.CANCELED, updated_at=now
    )
    PayoutTask.objects.filter(refund=refund, status=PayoutStatus.OPEN).update(status=PayoutStatus.CANCELED)


def refund_stop_if_payment_withdrawn(*, refund: Refund, payment: Payment, actor: Actor) -> DomainError | None:
    """Stop a refund whose payment was charged back or voided since it was requested; return why, or None.

    Creation refuses such payments, but the merchant may report the
    chargeback (or void) later, while the refund waits for a decision or for
    delivery. Sending it then would pay the customer twice (the chargeback
    already returned the money) or refund money never taken. So, with the
    refund and payment locked (`refund_lock`):

    * `requested` or `approved`: → `canceled` (SPEC §3.1 edges);
    * `submitting` (the provider may have been asked; the outcome is unknown):
      → `failed`, not retryable, flagged in the audit trail — reconciliation
      shows a provider refund if an earlier attempt did make one;
    * any other state: nothing to stop here (the error is still returned).

    The move goes through `refund_transition`, so the reservation is released,
    an approved refund's REFUND_PENDING reversed, the audit event written, and
    the customer told after commit (notifications); the pending submission is
    closed so no worker sends it. `failure_code` says why
    (`PAYMENT_WITHDRAWN_FAILURE_CODES`). The caller raises the returned error
    after its transaction commits (a refusal raised inside would roll the stop back).
    """
    if payment.status not in PAYMENT_WITHDRAWN_STATUSES:
        return None
    if payment.status == PaymentStatus.VOIDED and refund.instrument == RefundInstrument.VOID:
        # Voided is what this refund asks for, not a reason to stop it: someone released the hold
        # first (the merchant, at the provider). Sent anyway, the provider answers that the hold is
        # released, and the void completes as it would have (refunds.services.void).
        return None
    error = DomainError(WITHDRAWN_PAYMENT_ERRORS[payment.status], payment_status=payment.status)
    code = PAYMENT_WITHDRAWN_FAILURE_CODES[payment.status]
    note = f"payment {payment.status} after the request: not sent to the provider"
    if refund.state in (S.REQUESTED, S.APPROVED):
        changes, to, audit = {"failure_code": code}, S.CANCELED, {}
    elif refund.state == S.SUBMITTING:
        changes, to, audit = {"failure_code": code, "failure_retryable": False}, S.FAILED, {"flagged": True}
    else:
        return error
    refund_transition(
        refund,
        payment=payment,
        to=to,
        actor=actor,
        note=note,
        changes=changes,
        audit=audit,
        log={"failure_code": code},
    )
    submission_close(refund=refund)
    return error


def outbox_enqueue(message_id: int, *, countdown: float = 0) -> None:
    """Mark the message queued and queue its delivery task once the current transaction commits.

    Call it inside the transaction that decides to queue: the mark commits
    with that decision, so the sweeper never queues a second task beside this
    one. The publish itself is best effort (a broker outage is logged and
    counted, never raised into the committed request); its mark is then
    cleared, and the sweeper queues the message again. In relay mode nothing
    is marked nor published: the relay is woken at commit and queues it once due.
    """
    if relay_mode():
        relay_wake(_TABLE)
        return
    _outbox_queue([message_id], countdown=countdown)


def queued_until(*, countdown: float) -> datetime:
    """The mark of a task queued now with `countdown`: past it, the task is taken as lost."""
    return timezone.now() + timedelta(seconds=countdown + settings.OUTBOX_QUEUED_TTL_SECONDS)


def _outbox_queue(message_ids: list[int], *, countdown: float = 0) -> None:
    if not message_ids:
        return
    until = queued_until(countdown=countdown)
    OutboxMessage.objects.filter(pk__in=message_ids).update(queued_until=until)
    _publish_on_commit(message_ids, countdown=countdown, until=until)


def _publish_on_commit(message_ids: list[int], *, countdown: float, until: datetime) -> None:
    transaction.on_commit(lambda: _publish(message_ids, countdown=countdown, until=until))


def _publish(message_ids: list[int], *, countdown: float, until: datetime) -> None:
    """After commit: one task per message. After the first refusal the broker is taken to be down for the rest."""
    for index, message_id in enumerate(message_ids):
        queued = enqueue_best_effort(
            deliver_outbox,
            kwargs={"message_id": message_id},
            countdown=countdown,
            message_id="MSG.outbox.enqueue_failed",
            log={"outbox_message_id": message_id},
        )
        if not queued:
            _unmark(message_ids[index:], until=until)
            return


def _unmark(message_ids: list[int], *, until: datetime) -> None:
    """Their tasks were never queued: let the next sweep queue them (only the marks this call set)."""
    try:
        OutboxMessage.objects.filter(pk__in=message_ids, queued_until=until).update(queued_until=None)
    except DatabaseError:
        # The database is down too: the marks simply run out (OUTBOX_QUEUED_TTL_SECONDS) and the sweeper retries.
        logger.warning(
            "outbox marks left to expire",
            extra={"message_id": "MSG.outbox.unmark_failed", "outbox_message_ids": message_ids[:20]},
        )


def backoff_seconds(attempts: int) -> float:
    """How long a message waits after its `attempts`-th unknown outcome (OUTBOX_BACKOFF_* settings)."""
    return backoff_with_jitter(
        attempts, base=settings.OUTBOX_BACKOFF_BASE_SECONDS, cap=settings.OUTBOX_BACKOFF_MAX_SECONDS
    )


@dataclass(frozen=True)
class Claim:
    """One delivery attempt of a message, as taken under the locks (the provider call needs no row)."""

    message_id: int
    refund_id: int
    public_id: str
    provider: str
    payment_id: str
    amount_minor: int
    currency: str
    idempotency_key: str
    void: bool = False


def _superseded(message: OutboxMessage, refund: Refund) -> bool:
    """The message carries an earlier submission round than the one the refund is in (or about to start)."""
    round_ = message.payload.get("round") if isinstance(message.payload, dict) else None
    if not isinstance(round_, int):
        return False
    current = refund.submission_count + (1 if refund.state == S.APPROVED else 0)
    return round_ < current


# What a claim answers for a message a submission pause holds (refunds.services.pauses).
HELD = "held"


def outbox_claim(*, message_id: int) -> Claim | str | None:
    """Take the message for one delivery attempt, or None if it is not ours to take now.

    HELD when its provider's submission is paused: the task is consumed (its
    mark cleared) without using an attempt, and `pauses.resume` queues the
    message again; nothing else about it changes.
    """
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
        if _superseded(message, refund):
            # An earlier round's call (a dead letter replayed, a task left in the queue) while a later
            # round is out: sending it would ask the provider for a second refund of the same money.
            message.status = OutboxStatus.CANCELED
            message.lease_expires_at = None
            message.queued_until = None
            message.last_error = f"superseded by submission round {refund.submission_count}"
            message.save(update_fields=["status", "lease_expires_at", "queued_until", "last_error", "updated_at"])
            return None
        if refund.state in (S.APPROVED, S.SUBMITTING):
            stopped = refund_stop_if_payment_withdrawn(refund=refund, payment=payment, actor=OUTBOX_ACTOR)
            if stopped is not None:
                return None  # charged back or voided since it was approved: never sent (the message is closed)
        if refund.state in (S.APPROVED, S.SUBMITTING) and pause_in_force(
            PauseKind.SUBMISSION, payment.provider, serialise=True
        ):
            message.queued_until = None
            message.save(update_fields=["queued_until", "updated_at"])
            provider = payment.provider
            transaction.on_commit(lambda: outbox_attempt(provider=provider, outcome=HELD))
            return HELD
        if refund.state == S.APPROVED:
            refund_transition(
                refund,
                payment=payment,
                to=S.SUBMITTING,
                actor=OUTBOX_ACTOR,
                note=f"idempotency key {message.idempotency_key}",
                log={"idempotency_key": message.idempotency_key},
            )
        elif refund.state != S.SUBMITTING:
            # Canceled before submission, or already settled by a webhook: nothing to send.
            message.status = OutboxStatus.CANCELED if refund.state == S.CANCELED else OutboxStatus.DONE
            message.lease_expires_at = None
            message.queued_until = None
            message.save(update_fields=["status", "lease_expires_at", "queued_until", "updated_at"])
            return None
        message.attempts += 1
        message.lease_expires_at = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
        # This task is the queued one, consumed: from here the lease covers the message, and
        # whatever follows (release, a crash) queues anew or leaves it to the sweeper.
        message.queued_until = None
        message.save(update_fields=["attempts", "lease_expires_at", "queued_until", "updated_at"])
        return Claim(
            message_id=message.pk,
            refund_id=refund.pk,
            public_id=refund.public_id,
            provider=payment.provider,
            payment_id=payment.provider_payment_id,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            idempotency_key=message.idempotency_key,
            void=refund.instrument == RefundInstrument.VOID,
        )


def outbox_deliver(*, message_id: int) -> str:
    """One delivery attempt of an outbox message; returns what happened (for logs and tests)."""
    claim = outbox_claim(message_id=message_id)
    if claim is None:
        return "skipped"
    if claim == HELD:
        return HELD
    breaker = CircuitBreaker(claim.provider)
    if not breaker.allow():
        delay = max(breaker.open_until() - timezone.now().timestamp(), 1.0)
        _release(claim, error="circuit open", delay=delay, count_attempt=False)
        return "deferred"
    try:
        if claim.void:
            # The authorization is released whole; its outcome is final (Provider.void_payment).
            outcome = get_provider(claim.provider).void_payment(
                payment_id=claim.payment_id, idempotency_key=claim.idempotency_key
            )
        else:
            outcome = get_provider(claim.provider).execute_refund(
                payment_id=claim.payment_id,
                amount_minor=claim.amount_minor,
                currency=claim.currency,
                idempotency_key=claim.idempotency_key,
                metadata={"refund_id": claim.public_id},
            )
    except ProviderUnavailable as error:
        breaker.record_failure(error)  # a request-specific one is the provider answering (providers/base.py)
        released = _release(claim, error=f"{error.__class__.__name__}: {error}"[:500])
        if released != "skipped":
            outbox_attempt(provider=claim.provider, outcome=released)  # retry, or dead after the last attempt
        return released
    except IdempotencyMismatch as error:
        breaker.record_success()
        _dead_letter(claim, error=f"idempotency mismatch (bug: key reused with other parameters): {error}")
        outbox_attempt(provider=claim.provider, outcome="dead")
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
        now = timezone.now()
        OutboxMessage.objects.filter(pk=claim.message_id).update(
            status=OutboxStatus.DONE, lease_expires_at=None, delivered_at=now, updated_at=now
        )
    outbox_attempt(provider=claim.provider, outcome="rejected" if outcome.status == "failed" else "sent")
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
        # Relay mode: unmarked, so the relay's sweep takes it at `available_at` (it wakes for that time).
        message.queued_until = None if relay_mode() else queued_until(countdown=wait)
        message.save(
            update_fields=["attempts", "available_at", "lease_expires_at", "last_error", "queued_until", "updated_at"]
        )
        if message.queued_until is None:
            relay_wake(_TABLE)
        else:
            _publish_on_commit([message.pk], countdown=wait, until=message.queued_until)
    logger.warning(
        "provider call to retry",
        extra={"message_id": "MSG.refund.submit_retry", "refund_id": claim.public_id, "error": error, "wait_s": wait},
    )
    return "retry"


def _dead_letter(claim: Claim, *, error: str) -> None:
    with transaction.atomic():
        now = timezone.now()
        OutboxMessage.objects.filter(pk=claim.message_id).update(
            status=OutboxStatus.DEAD, dead_at=now, lease_expires_at=None, last_error=error[:2000], updated_at=now
        )
        audit_record(
            actor=OUTBOX_ACTOR,
            action=AuditAction.OUTBOX_DEAD_LETTERED,
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
        refund = Refund.objects.get(pk=message.refund_id)
        if _superseded(message, refund):
            raise DomainError(
                ERR_CONFLICT_STATE,
                f"This call was submission round {message.payload['round']}; the refund has moved on to round "
                f"{refund.submission_count}. Replaying it could pay the customer twice.",
            )
        message.status = OutboxStatus.PENDING
        message.attempts = 0
        message.available_at = timezone.now()
        message.dead_at = None
        message.save(update_fields=["status", "attempts", "available_at", "dead_at", "updated_at"])
        audit_record(
            actor=actor, action=AuditAction.OUTBOX_REPLAYED, refund=message.refund, note=f"message {message.pk}"
        )
        outbox_enqueue(message.pk)
    return message


def outbox_due(*, now: datetime) -> QuerySet[OutboxMessage]:
    """Due messages that no worker holds and no task is queued for: theirs was lost, or their lease ran out."""
    return (
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING, available_at__lte=now)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now))
    )


def outbox_sweep(*, limit: int) -> list[int]:
    """Queue one task for each due message that has none; returns their ids.

    Selected and marked in one transaction, the rows locked (skipping those a
    claim or another sweep holds), so a message with a queued task gets no
    second one however often this runs: the queue holds at most one task per
    due message. The conditions sit on the locking query itself, so a row
    another sweep marked while this one waited is re-checked, not re-queued.
    """
    with transaction.atomic():
        due = list(
            exclude_held(outbox_due(now=timezone.now()))
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("available_at")
            .values_list("pk", flat=True)[:limit]
        )
        _outbox_queue(due)
    return due


def outbox_queue_released(messages: QuerySet[OutboxMessage]) -> list[int]:
    """Queue the due messages among `messages` that no worker holds and no task is queued for, in outbox
    order (available_at, id); returns their ids. A submission pause lifted (refunds.services.pauses.resume):
    its tasks are published after commit in that order, so workers take them oldest first. In relay mode
    they are left unmarked and the relay is woken: its sweep queues them in the same order.
    """
    due = list(
        outbox_due(now=timezone.now())
        .filter(pk__in=messages.values("pk"))
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("available_at", "id")
        .values_list("pk", flat=True)
    )
    if relay_mode():
        if due:
            relay_wake(_TABLE)
        return due
    _outbox_queue(due)
    return due


# --- Celery tasks (names are wire contracts: queued messages and beat name them) --------------------


@shared_task(name="refunds.deliver_outbox", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def deliver_outbox(*, message_id: int) -> str:
    # In the refund's trace whoever queued this task (core.telemetry.span_in_stored_trace).
    with span_in_stored_trace("refunds.outbox.deliver", lambda: submission_trace_context(message_id=message_id)):
        return outbox_deliver(message_id=message_id)


def submission_trace_context(*, message_id: int | None = None, refund_id: int | None = None) -> dict:
    """The trace context stored on an outbox message, or on a refund's latest submission; {} if none."""
    messages = (
        OutboxMessage.objects.filter(pk=message_id)
        if message_id
        else OutboxMessage.objects.filter(refund_id=refund_id, topic=OutboxTopic.SUBMIT).order_by("-pk")
    )
    return messages.values_list("trace_context", flat=True).first() or {}


@shared_task(name="refunds.sweep_outbox")
def sweep_outbox(*, limit: int = 500) -> int:
    """Queue due messages whose task was lost (crash after commit, broker loss, dead worker)."""
    due = outbox_sweep(limit=limit)
    if due:
        logger.info("outbox sweep", extra={"message_id": "MSG.outbox.swept", "queued": len(due)})
    return len(due)
