from django.db import models
from django.utils import timezone

from refunds.enums import OutboxStatus, OutboxTopic


class OutboxMessage(models.Model):
    """A message to the payment provider, written in the transaction that decided it.

    Delivery (SPEC §6) reads pending rows; because the row commits or rolls
    back with the approval itself, an approved refund can never be lost between
    the database and the queue. `idempotency_key` is what the provider sees.
    """

    refund = models.ForeignKey("refunds.Refund", on_delete=models.PROTECT, related_name="outbox_messages")
    topic = models.CharField(max_length=40, choices=OutboxTopic.choices, default=OutboxTopic.SUBMIT)
    idempotency_key = models.CharField(max_length=100, unique=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    available_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    # A worker owns the message until this time; a crashed worker's lease
    # simply expires and the sweeper hands the message to another.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # A delivery task for this message is queued (or held by a worker until its
    # countdown) and should have run by then; the claim clears it. The sweeper
    # queues only messages without a live one: one task per message, however
    # often it runs (refunds.services.outbox).
    queued_until = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The W3C trace context of the request that wrote the message (issue 16): its delivery, whichever
    # worker or sweep runs it, continues that trace. {} when tracing is off.
    trace_context = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["available_at", "id"]
        indexes = [
            models.Index(
                fields=["available_at"],
                condition=models.Q(status=OutboxStatus.PENDING),
                name="outbox_pending_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=OutboxStatus.values), name="outbox_status_known"),
        ]
