"""The email outbox: customer emails written with the move they report, sent at least once, never by two workers.

The chain is told in `notifications.emails`; these are its mechanics, on the
model of the provider outbox (`refunds.services.outbox`):

1. write — `email_write`, in the move's transaction: one INSERT, marked as
   queued for EMAIL_REQUEUE_AFTER_SECONDS, and the task queued on commit.
2. claim — lock the row (SKIP LOCKED: a worker never waits behind another's
   claim), check it is pending and nobody's lease runs, take the lease
   (attempt n), read what the email needs and build it; commit. The mail
   server is never called inside a transaction.
3. send — through Django's email API.
4. record — sent: the row and the audit event `notification.sent` in one
   transaction; transient error: back off (the row's `available_at`) and
   queue a countdown task, or after the last attempt `failed`; permanent
   refusal: `failed`. The database failing after the claim does not lose the
   attempt: the task retries the record, and a retry after a successful send
   only records it.

The sweeper (beat) queues a task for every pending email that is due, not
leased and whose queued task should have started by now (`enqueued_until`):
its task was lost with the broker, never queued (the process died after
COMMIT, the broker was down), or its worker died mid-send. The marker keeps a
due email to one queued task. The Celery tasks live here, beside what they
run, so queueing one needs no import cycle (`notifications.tasks` keeps the
name of the task emails were queued under before the outbox).

With OUTBOX_HANDOFF=relay (core.handoff) the write, the retry and the replay
queue nothing: the row is left unmarked (`enqueued_until` NULL) with its
`available_at`, and `manage.py outbox_relay` queues it through `email_sweep`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.enums import AuditAction
from core.handoff import relay_mode, relay_wake
from core.i18n import customer_language
from core.queueing import backoff_with_jitter, enqueue_best_effort
from core.write_batch import batching, insert_rows
from notifications.emails import (
    EmailSendError,
    describe_error,
    is_transient,
    notification_already_sent,
    notification_build,
    notification_record,
)
from notifications.metrics import EMAIL_FAILURES_TOTAL
from notifications.models import CustomerEmail, EmailStatus
from refunds.models import Refund

logger = logging.getLogger("notifications.outbox")

# The database failing under the task: retried by Celery with exponential backoff and jitter,
# 1 s doubling to 2 min, for about 15 minutes; then the sweeper takes over.
DB_RETRY_MAX = 12
DB_RETRY_CAP_SECONDS = 120.0
DB_ERRORS = (OperationalError, InterfaceError)
_TABLE = CustomerEmail._meta.db_table


@dataclass(frozen=True)
class EmailClaim:
    """One delivery attempt of an email, as taken under the row lock (the send needs no row)."""

    email_id: int
    attempt: int
    message_id: str
    refund_public_id: str
    message: EmailMultiAlternatives | None  # None: no address on file


class EmailNotRecorded(Exception):
    """The database failed after the claim: the task retries the record with the lease it holds.

    `sent` says the mail server took the email already, so the retry records it and never sends again.
    """

    def __init__(self, *, attempt: int, sent: bool) -> None:
        super().__init__(f"attempt {attempt} not recorded (sent={sent})")
        self.attempt, self.sent = attempt, sent


def email_write(*, refund: Refund, message_id: str, event: str) -> CustomerEmail:
    """Write the email a move calls for, in the move's transaction; its task is queued on commit.

    In relay mode the row is written unmarked and nothing is queued: its INSERT wakes the relay at commit.
    """
    relay = relay_mode()
    email = CustomerEmail(
        refund=refund,
        message_id=message_id,
        refund_version=refund.version,
        event=event,
        # The on-commit task below: the sweeper leaves the email to it unless it never starts.
        enqueued_until=None if relay else timezone.now() + timedelta(seconds=settings.EMAIL_REQUEUE_AFTER_SECONDS),
    )
    if relay:
        if batching():
            insert_rows([email])
        else:
            email.save(force_insert=True)
        return email
    if batching():
        # One INSERT now, or with the move's other writes (core.write_batch): the task is queued on commit
        # as below, once the row's id is known.
        insert_rows([email], then=lambda: transaction.on_commit(partial(email_enqueue, email.pk)))
    else:
        email.save(force_insert=True)
        transaction.on_commit(partial(email_enqueue, email.pk))
    return email


def email_enqueue(email_id: int, *, countdown: float = 0) -> bool:
    """Queue the delivery task, best effort: the row is durable, so a failure is logged, counted, left to a sweep."""
    if enqueue_best_effort(
        deliver_email,
        kwargs={"email_id": email_id},
        countdown=countdown,
        message_id="MSG.notification.enqueue_failed",
        log={"email_id": email_id},
    ):
        return True
    # Not queued after all: the next sweep may queue it, rather than after EMAIL_REQUEUE_AFTER_SECONDS
    # (if the database is down too, the marker simply runs out).
    with contextlib.suppress(DatabaseError):
        CustomerEmail.objects.filter(pk=email_id, status=EmailStatus.PENDING).update(enqueued_until=None)
    return False


def email_backoff_seconds(attempts: int) -> float:
    """How long an email waits after its `attempts`-th failed send (EMAIL_BACKOFF_* settings)."""
    return backoff_with_jitter(
        attempts, base=settings.EMAIL_BACKOFF_BASE_SECONDS, cap=settings.EMAIL_BACKOFF_MAX_SECONDS
    )


def _locked(email_id: int, *, skip_locked: bool = False) -> CustomerEmail | None:
    rows = CustomerEmail.objects.select_for_update(of=("self",), skip_locked=skip_locked)
    return rows.select_related("refund__order__customer", "refund__payment").filter(pk=email_id).first()


def _language(email: CustomerEmail) -> str:
    return customer_language(requested=None, customer_locale=email.refund.order.customer.locale)


def email_claim(*, email_id: int, held_attempt: int | None = None) -> EmailClaim | str:
    """Take the email for one attempt, or say why not: "busy", "duplicate" (done already), "missing".

    `held_attempt`: the attempt whose lease the caller holds (a retry after the
    database failed under it) — that lease is taken over instead of waited out.
    A failure to build the email (a template bug) rolls the claim back and is raised.
    """
    with transaction.atomic():
        email = _locked(email_id, skip_locked=True)
        if email is None:
            # Locked: another worker is claiming or recording it this very moment.
            return "busy" if CustomerEmail.objects.filter(pk=email_id).exists() else "missing"
        if email.status != EmailStatus.PENDING:
            return "duplicate"
        now = timezone.now()
        if email.lease_expires_at and email.lease_expires_at > now and email.attempts != held_attempt:
            return "busy"  # another worker is sending it right now
        refund = email.refund
        message = None
        if refund.customer_email:
            message = notification_build(refund=refund, message_id=email.message_id, language=_language(email))
        email.attempts += 1
        email.lease_expires_at = now + timedelta(seconds=settings.EMAIL_LEASE_SECONDS)
        email.enqueued_until = None  # this task started: from here the lease covers the email
        email.save(update_fields=["attempts", "lease_expires_at", "enqueued_until", "updated_at"])
        return EmailClaim(email.pk, email.attempts, email.message_id, refund.public_id, message)


def _finish(email: CustomerEmail, status: str, action: str, detail: str = "") -> None:
    """Close a locked email and put its outcome on the refund's timeline, in one transaction."""
    email.status, email.finished_at, email.lease_expires_at = status, timezone.now(), None
    email.enqueued_until = None
    if detail:
        email.last_error = detail[:200]
    fields = ["status", "finished_at", "lease_expires_at", "enqueued_until", "last_error", "updated_at"]
    email.save(update_fields=fields)
    notification_record(email.refund, action, email.message_id, _language(email), detail)


def email_record_sent(*, email_id: int) -> str:
    """The mail server took the email: mark it sent with its audit event; "duplicate" if recorded already."""
    with transaction.atomic():
        email = _locked(email_id)
        if email is None:
            return "missing"
        if email.status != EmailStatus.PENDING:
            return "duplicate"  # a worker whose lease had run out sent it as well
        _finish(email, EmailStatus.SENT, AuditAction.NOTIFICATION_SENT)
    return "sent"


def _close(claim: EmailClaim, status: str, action: str, detail: str) -> bool:
    """Close the email the claim holds (refused for good, no address); False if it is no longer ours."""
    with transaction.atomic():
        email = _locked(claim.email_id)
        if email is None or email.status != EmailStatus.PENDING or email.attempts != claim.attempt:
            return False
        _finish(email, status, action, detail)
    return True


def email_release(claim: EmailClaim, *, error: str) -> str:
    """A transient failure: try again after a backoff, or after the last attempt mark the email failed."""
    with transaction.atomic():
        email = _locked(claim.email_id)
        if email is None or email.status != EmailStatus.PENDING or email.attempts != claim.attempt:
            return "skipped"  # another worker took over after our lease ran out
        if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
            _finish(email, EmailStatus.FAILED, AuditAction.NOTIFICATION_FAILED, f"gave up after retries: {error}")
            logger.error(
                "customer email not sent after retries",
                extra={"message_id": "MSG.notification.failed", "refund_id": claim.refund_public_id,
                       "email": claim.message_id},
            )  # fmt: skip
            return "failed"
        wait = email_backoff_seconds(email.attempts)
        email.available_at = timezone.now() + timedelta(seconds=wait)
        email.lease_expires_at = None
        email.last_error = error[:200]
        relay = relay_mode()
        # Relay mode: unmarked, so the relay's sweep takes it at `available_at` (it wakes for that time).
        email.enqueued_until = (
            None if relay else email.available_at + timedelta(seconds=settings.EMAIL_REQUEUE_AFTER_SECONDS)
        )
        email.save(update_fields=["available_at", "lease_expires_at", "last_error", "enqueued_until", "updated_at"])
        if relay:
            relay_wake(_TABLE)
        else:
            transaction.on_commit(partial(email_enqueue, email.pk, countdown=wait))
    logger.warning(
        "customer email to retry",
        extra={"message_id": "MSG.notification.retry", "refund_id": claim.refund_public_id, "email": claim.message_id,
               "error": error, "wait_s": round(wait, 1)},
    )  # fmt: skip
    return "retry"


def _fail_unbuildable(email_id: int, detail: str) -> None:
    with transaction.atomic():
        email = _locked(email_id)
        if email is not None and email.status == EmailStatus.PENDING:
            _finish(email, EmailStatus.FAILED, AuditAction.NOTIFICATION_FAILED, detail)


def email_deliver(*, email_id: int, held_attempt: int | None = None, sent: bool = False) -> str:
    """One delivery attempt; returns what happened: sent, retry, failed, skipped, busy, duplicate, missing.

    Database errors before the claim propagate (the task retries); after it they
    are raised as EmailNotRecorded with the lease the attempt holds. Anything
    unexpected is recorded as failed and raised as EmailSendError, which names
    the error's type but never repeats its text (it may hold the address).
    """
    if sent:
        return email_record_sent(email_id=email_id)
    try:
        claim = email_claim(email_id=email_id, held_attempt=held_attempt)
    except DatabaseError:
        raise
    except Exception as exc:  # noqa: BLE001 - cannot build it (template, catalogue): final, audited
        _fail_unbuildable(email_id, describe_error(exc))
        raise EmailSendError(describe_error(exc)) from None
    if isinstance(claim, str):
        return claim
    log = {"refund_id": claim.refund_public_id, "email": claim.message_id}
    try:
        if claim.message is None:
            _close(claim, EmailStatus.SKIPPED, AuditAction.NOTIFICATION_SKIPPED, "no email address")
            return "skipped"
        try:
            claim.message.send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - sorted below; never chained (its text may name the recipient)
            EMAIL_FAILURES_TOTAL.labels(kind=claim.message_id).inc()
            detail = describe_error(exc)
            if is_transient(exc):
                return email_release(claim, error=detail)
            _close(claim, EmailStatus.FAILED, AuditAction.NOTIFICATION_FAILED, detail)
            logger.warning("customer email refused", extra={"message_id": "MSG.notification.failed", **log})
            if isinstance(exc, smtplib.SMTPException):
                return "failed"
            raise EmailSendError(detail) from None
    except DatabaseError as exc:
        raise EmailNotRecorded(attempt=claim.attempt, sent=False) from exc
    try:
        outcome = email_record_sent(email_id=claim.email_id)
    except DatabaseError as exc:
        raise EmailNotRecorded(attempt=claim.attempt, sent=True) from exc
    logger.info("customer email sent", extra={"message_id": "MSG.notification.sent", **log})
    return outcome


def email_adopt(*, refund_id: int, message_id: str) -> int | None:
    """The outbox row for a task queued before the outbox existed (by refund and message id); None if done or gone."""
    refund = Refund.objects.filter(pk=refund_id).first()
    if refund is None:
        logger.warning("refund to notify not found", extra={"message_id": "MSG.notification.missing"})
        return None
    existing = CustomerEmail.objects.filter(refund=refund, message_id=message_id).order_by("-refund_version").first()
    if existing is not None:
        return existing.pk  # a redelivered legacy task: the row decides
    if notification_already_sent(refund=refund, message_id=message_id):
        return None
    try:
        with transaction.atomic():
            email = CustomerEmail.objects.create(
                refund=refund, message_id=message_id, refund_version=refund.version, event="legacy"
            )
    except IntegrityError:  # the same legacy task delivered twice, at once
        email = CustomerEmail.objects.get(refund=refund, message_id=message_id, refund_version=refund.version)
    return email.pk


def email_replay(*, email_id: int) -> CustomerEmail:
    """Send a failed email again with fresh attempts (an operator, after fixing the cause: docs/runbooks.md)."""
    with transaction.atomic():
        email = CustomerEmail.objects.select_for_update().get(pk=email_id)
        if email.status != EmailStatus.FAILED:
            raise ValueError(f"only failed emails can be replayed (this one is {email.status})")
        email.status, email.attempts, email.finished_at = EmailStatus.PENDING, 0, None
        email.available_at = timezone.now()
        relay = relay_mode()
        email.enqueued_until = (
            None if relay else email.available_at + timedelta(seconds=settings.EMAIL_REQUEUE_AFTER_SECONDS)
        )
        email.save(update_fields=["status", "attempts", "finished_at", "available_at", "enqueued_until", "updated_at"])
        if relay:
            relay_wake(_TABLE)
        else:
            transaction.on_commit(partial(email_enqueue, email.pk))
    logger.info("customer email replayed", extra={"message_id": "MSG.notification.replayed", "email_id": email_id})
    return email


def _due_filter(now) -> Q:
    return (
        Q(status=EmailStatus.PENDING, available_at__lte=now)
        & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        & (Q(enqueued_until__isnull=True) | Q(enqueued_until__lt=now))
    )


def email_sweep(*, limit: int = 500) -> int:
    """Queue one task for each due email whose task was lost or never queued; returns how many were queued.

    Selected and marked in one transaction, the rows locked (skipping those a
    claim or another sweep holds): two sweepers never queue one email twice,
    and the conditions sit on the locking query, so a row marked meanwhile is
    re-checked, not re-queued. Then one task each; after the first refusal the
    broker is taken to be down, and the marks of the rest are taken back so the
    next sweep queues them.
    """
    with transaction.atomic():
        now = timezone.now()
        due = list(
            CustomerEmail.objects.filter(_due_filter(now))
            .select_for_update(skip_locked=True)
            .order_by("available_at")
            .values_list("pk", flat=True)[:limit]
        )
        until = now + timedelta(seconds=settings.EMAIL_REQUEUE_AFTER_SECONDS)
        CustomerEmail.objects.filter(pk__in=due).update(enqueued_until=until)
    queued = 0
    for index, email_id in enumerate(due):
        if not email_enqueue(email_id):
            with contextlib.suppress(DatabaseError):  # down too: the marks simply run out
                CustomerEmail.objects.filter(pk__in=due[index + 1 :], enqueued_until=until).update(enqueued_until=None)
            break
        queued += 1
    if queued:
        logger.info("customer emails swept", extra={"message_id": "MSG.notification.swept", "queued": queued})
    return queued


# --- Celery tasks (names are wire contracts: queued messages and beat name them) --------------------


def _db_retry_countdown(retries: int) -> float:
    return random.uniform(0.5, 1.0) * min(DB_RETRY_CAP_SECONDS, 2.0**retries)


@shared_task(name="notifications.deliver_email", bind=True, max_retries=DB_RETRY_MAX, acks_late=True)
def deliver_email(self, *, email_id: int, held_attempt: int | None = None, sent: bool = False) -> str:
    """Deliver one customer email (`email_deliver`); database errors are retried with backoff.

    SMTP errors are not retried here: the row keeps the attempts and backoff
    (`email_release`), so they survive a lost task.
    """
    try:
        return email_deliver(email_id=email_id, held_attempt=held_attempt, sent=sent)
    except EmailNotRecorded as error:
        retry = {"email_id": email_id, "held_attempt": error.attempt, "sent": error.sent}
        raise self.retry(kwargs=retry, countdown=_db_retry_countdown(self.request.retries)) from None
    except DB_ERRORS as error:
        raise self.retry(exc=error, countdown=_db_retry_countdown(self.request.retries)) from None


@shared_task(name="notifications.sweep_emails")
def sweep_emails(*, limit: int = 500) -> int:
    """Queue the emails whose task was lost (broker restart, crash after commit, dead worker)."""
    return email_sweep(limit=limit)
