"""What merchants' systems are told (issue 14): events, webhook endpoints, and each delivery's attempts.

An `Event` is written in the transaction of the refund change it reports
(events.receivers): a change that commits always has its event, one that
rolls back has none. Events are append-only (a database trigger refuses
UPDATE and DELETE, migration events/0002). Each event gets the merchant's
next `sequence` from `EventSequence`, whose row lock is held until COMMIT: so
sequences are given out in commit order, and a client reading
`GET /v1/events?after=evt_…` never misses an event that commits later with a
smaller number.

A `WebhookDelivery` is the outbox row of one event to one endpoint, written
with the event; a Celery worker sends it (events.delivery) and records each
try as a `WebhookAttempt`.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from events.enums import DeliveryStatus, DeliveryTrigger, EndpointStatus, EventType

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _public_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def new_event_id() -> str:
    return _public_id("evt_")


def new_endpoint_id() -> str:
    return _public_id("we_")


def new_attempt_id() -> str:
    return _public_id("wa_")


class EventSequence(models.Model):
    """The last sequence number given to one merchant's events (events.receivers.sequence_next)."""

    merchant = models.OneToOneField("refunds.Merchant", on_delete=models.PROTECT, primary_key=True, related_name="+")
    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.last}"


class Event(models.Model):
    """Something that happened to a merchant's refund, as its system is told (append-only).

    PostgreSQL keeps the table partitioned by month of `created_at` (migration
    0006, `core.partitions`): there its primary key is (id, created_at) and
    its unique keys end with `created_at`, so `public_id` and `sequence` are
    unique by construction rather than by the database (0006 says why that
    is enough).
    """

    public_id = models.CharField(max_length=32, unique=True, default=new_event_id, editable=False)
    merchant = models.ForeignKey("refunds.Merchant", on_delete=models.PROTECT, related_name="events")
    # 1, 2, 3 … per merchant, in commit order (EventSequence).
    sequence = models.BigIntegerField()
    type = models.CharField(max_length=40, choices=EventType.choices)
    refund = models.ForeignKey("refunds.Refund", on_delete=models.PROTECT, related_name="events")
    # The refund as `GET /v1/refunds/{id}` returned it at that moment (events.documents), but for
    # `status_url`: the customer's bearer link is kept only sealed (Refund.status_token_sealed), so
    # it is added when the event is read or sent (`as_payload`), never stored in this append-only table.
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["merchant", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sequence"], name="event_sequence_once_per_merchant"),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="event_sequence_positive"),
        ]
        indexes = [models.Index(fields=["merchant", "type", "sequence"], name="event_merchant_type_seq")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"

    def as_payload(self) -> dict:
        """The event as the API lists it and as a webhook's body carries it (load `refund` with it)."""
        return {
            "id": self.public_id,
            "object": "event",
            "type": self.type,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "sequence": self.sequence,
            "data": self._data_with_secrets(),
        }

    def _data_with_secrets(self) -> dict:
        """`data` with what is never stored (events.writer.stored_data) read back from its sealed copies."""
        data = {**self.data, "status_url": self.refund.status_url}
        credit = data.get("store_credit")
        if isinstance(credit, dict):
            from credits.selectors import refund_credit  # the credit is read only for the events that name one

            issued = refund_credit(self.refund)
            data["store_credit"] = {**credit, "code": issued.code if issued is not None else None}
        return data


class WebhookEndpoint(models.Model):
    """A merchant's URL that receives its events, signed with the endpoint's secret (Standard Webhooks).

    The secret is kept encrypted (events.signing, WEBHOOK_SECRET_ENCRYPTION_KEY)
    and shown once, at creation and at each rotation. After a rotation the
    previous secret keeps signing beside the new one for 24 hours
    (`previous_secrets`: `[{"sealed": …, "expires_at": ISO 8601}]`).
    """

    public_id = models.CharField(max_length=32, unique=True, default=new_endpoint_id, editable=False)
    merchant = models.ForeignKey("refunds.Merchant", on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=500, blank=True)
    # "refund.*" and/or exact event types (events.enums.SUBSCRIBABLE).
    events = models.JSONField(default=list)
    secret_sealed = models.TextField(editable=False)
    previous_secrets = models.JSONField(default=list, blank=True, editable=False)
    status = models.CharField(max_length=10, choices=EndpointStatus.choices, default=EndpointStatus.ENABLED)
    # Why it is disabled: "merchant" (asked for), "failing" (WEBHOOK_DISABLE_AFTER_SECONDS of failures).
    disabled_reason = models.CharField(max_length=20, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # The first failed attempt since the last success; cleared by a success.
    failing_since = models.DateTimeField(null=True, blank=True)
    # Set once the merchant's contact was told the endpoint was disabled for failing.
    disabled_notice_sent_at = models.DateTimeField(null=True, blank=True)
    # One worker sends to an endpoint at a time (events.delivery): a slow endpoint holds one slot.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Deleted endpoints are kept for their delivery history; they receive nothing and answer 404.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=EndpointStatus.values), name="webhook_endpoint_status_known"),
        ]
        indexes = [models.Index(fields=["merchant", "status"], name="webhook_endpoint_merchant")]
        # Staff managing endpoints from the console (refunds.permissions.Perm.MANAGE_WEBHOOKS).
        permissions = [("manage_webhooks", "Manage merchants' webhook endpoints and redeliver events")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.url}"

    @property
    def is_live(self) -> bool:
        return self.deleted_at is None and self.status == EndpointStatus.ENABLED


class WebhookDelivery(models.Model):
    """One event to one endpoint: the outbox row a worker sends until it is delivered or given up."""

    # No foreign key in PostgreSQL: events are partitioned by month (events/0006 says why nothing is lost).
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries", db_constraint=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries")
    trigger = models.CharField(max_length=10, choices=DeliveryTrigger.choices, default=DeliveryTrigger.EVENT)
    # Who asked for a redelivery (an actor label); empty for the event's own delivery.
    requested_by = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Not before: the next try (backoff with jitter after a failure).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A task was queued for this delivery and is trusted to start until then (the sweeper's marker).
    queued_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(trigger=DeliveryTrigger.EVENT),
                name="webhook_delivery_once_per_event_endpoint",
            ),
            # One pending redelivery of an event per endpoint: asking again returns it (events.services.redeliver).
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(trigger=DeliveryTrigger.REDELIVER, status=DeliveryStatus.PENDING),
                name="webhook_delivery_one_pending_redelivery",
            ),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_known"),
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "next_attempt_at"],
                condition=Q(status=DeliveryStatus.PENDING),
                name="webhook_delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, as it went: what staff and `GET …/deliveries` show."""

    # What `GET /v1/webhook_endpoints/{id}/deliveries` calls it (and takes as its `after` cursor).
    public_id = models.CharField(max_length=32, unique=True, default=new_attempt_id, editable=False)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.PROTECT, related_name="attempt_log")
    # Kept beside the delivery's so an endpoint's attempts list in one index scan.
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    # The HTTP status, or null when no answer came (timeout, refused connection, refused address).
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    # The start of the answer's body, as text (WEBHOOK_RESPONSE_EXCERPT_CHARS).
    response_excerpt = models.CharField(max_length=1000, blank=True)
    error = models.CharField(max_length=300, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["endpoint", "-started_at"], name="webhook_attempt_endpoint")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.status_code or self.error}"
