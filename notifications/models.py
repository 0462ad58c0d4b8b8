"""The email outbox: one row per customer email, written in the transaction of the move it reports."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class EmailStatus(models.TextChoices):
    PENDING = "pending"  # to send (a task is queued, a worker holds the lease, or it waits for its backoff)
    SENT = "sent"  # handed to the mail server; audited `notification.sent` in the same transaction
    FAILED = "failed"  # refused for good, or the last attempt failed; audited `notification.failed`
    SKIPPED = "skipped"  # no address on file; audited `notification.skipped`


class CustomerEmail(models.Model):
    """A customer email a refund's move calls for (notifications.emails.email_for_event).

    Written by the `refund_changing` receiver inside the move's transaction, so
    it commits or rolls back with the move: no fault between the database and
    the queue can lose it. Delivered at least once by the task
    `notifications.deliver_email`, which claims it (row lock, then a lease) so
    two workers never send it both; the sweeper re-queues one whose task was
    lost. `(refund, message_id, refund_version)` is unique: the version the
    move gave the refund names the occurrence, since one refund may
    legitimately get the same email twice (failed, retried, failed again:
    `refund.failed.retrying` twice) but never twice for one move.
    """

    refund = models.ForeignKey("refunds.Refund", on_delete=models.PROTECT, related_name="customer_emails")
    message_id = models.CharField(max_length=60)
    # The refund's version after the move (refunds.services.transition bumps it on every move).
    refund_version = models.PositiveIntegerField()
    event = models.CharField(max_length=60, blank=True)  # the audit action of the move, e.g. refund.denied
    status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    available_at = models.DateTimeField(default=timezone.now)  # not before: the backoff after a transient error
    # A worker is sending it until then; a worker that died mid-send simply lets it run out.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # A task for it is queued and should have started by then: the sweeper leaves it alone
    # until this time, so a due email has at most one queued task.
    enqueued_until = models.DateTimeField(null=True, blank=True)
    # The error's type and SMTP code only, never its text (it may name the address).
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["available_at"],
                condition=models.Q(status=EmailStatus.PENDING),
                name="customer_email_pending_idx",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["refund", "message_id", "refund_version"], name="customer_email_once_per_move"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=EmailStatus.values), name="customer_email_status_known"
            ),
            # Finished exactly when no longer pending: what the timeline and the sweeper rely on.
            models.CheckConstraint(
                condition=models.Q(status=EmailStatus.PENDING, finished_at__isnull=True)
                | (~models.Q(status=EmailStatus.PENDING) & models.Q(finished_at__isnull=False)),
                name="customer_email_finished_when_done",
            ),
        ]
