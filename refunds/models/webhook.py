from django.conf import settings
from django.db import models

from providers.base import EVENT_ID_MAX_LENGTH, EVENT_TYPE_MAX_LENGTH, PROVIDER_REFUND_ID_MAX_LENGTH
from refunds.enums import WebhookStatus


class WebhookEvent(models.Model):
    """The provider webhook inbox (SPEC §6): every verified event, once, by (provider, event id).

    Only events whose signature verified are stored; a replay of a known event
    id increments `replay_count` and changes nothing else. Events for refunds
    we do not know are kept (status `unknown_refund`) for reconciliation;
    events that name one of ours but do not add up are `held` for finance.

    PostgreSQL keeps the inbox partitioned by month of `received_at`
    (migration 0029, `core.partitions`): there the primary key is
    (id, received_at), and "once by (provider, event id)" is kept across
    months by `WebhookEventKey`, which a trigger fills with every insert.
    """

    # The provider whose endpoint received (and whose secret verified) the event.
    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=EVENT_ID_MAX_LENGTH)
    event_type = models.CharField(max_length=EVENT_TYPE_MAX_LENGTH)
    provider_refund_id = models.CharField(max_length=PROVIDER_REFUND_ID_MAX_LENGTH, blank=True, db_index=True)
    refund = models.ForeignKey("refunds.Refund", null=True, on_delete=models.PROTECT, related_name="webhook_events")
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=WebhookStatus.choices)
    note = models.CharField(max_length=300, blank=True)
    provider_created_at = models.DateTimeField(null=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    replay_count = models.PositiveIntegerField(default=0)
    last_replayed_at = models.DateTimeField(null=True)
    # A held event stays held (the inbox records what the provider said); finance marking it
    # reviewed takes it out of Needs action (issue 12), with who, when and what they found.
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # Event ids are unique per provider, not across providers.
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once_per_provider"),
            models.CheckConstraint(condition=~models.Q(provider=""), name="webhook_event_names_its_provider"),
            models.CheckConstraint(
                condition=models.Q(status__in=WebhookStatus.values), name="webhook_event_status_known"
            ),
        ]

    def __str__(self) -> str:
        return self.event_id
