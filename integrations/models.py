"""What the Slack integration keeps: each refund's card, and the inbox of Slack's interaction requests."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class SlackCard(models.Model):
    """A refund's approval card in Slack, and the outbox row that keeps it in step with the refund.

    Written in the transaction of the change that needs a human decision, and
    marked again (`wanted_revision` + 1) in the transaction of every later
    change, so a change that commits can never lose its card update and one
    that rolls back sends nothing. A Celery task renders the refund *as it
    is when the task runs* and posts the card (`chat.postMessage`, storing
    `channel` and `ts`) or updates it (`chat.update`), then records the
    revision it rendered: several changes in a row cost one update, and a
    card that missed updates while Slack was down catches up with one.
    """

    refund = models.OneToOneField("refunds.Refund", on_delete=models.PROTECT, related_name="slack_card")
    # Where the message is: set by the first successful chat.postMessage, never changed after.
    channel = models.CharField(max_length=40, blank=True)
    ts = models.CharField(max_length=40, blank=True)
    # Every change of the refund bumps `wanted_revision`; a successful post or update records the
    # revision it rendered in `posted_revision`. The card is behind while posted < wanted.
    wanted_revision = models.PositiveBigIntegerField(default=1)
    posted_revision = models.PositiveBigIntegerField(default=0)
    # Delivery mechanics, as the provider outbox (refunds.models.OutboxMessage): not before
    # `available_at` (429 Retry-After, 5xx backoff); one task queued until `queued_until`; the
    # worker holding it until `lease_expires_at`; consecutive failures in `attempts`.
    available_at = models.DateTimeField(default=timezone.now)
    queued_until = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(posted_revision__lte=F("wanted_revision")), name="slack_card_posted_not_ahead"
            ),
            models.UniqueConstraint(fields=["channel", "ts"], condition=~Q(ts=""), name="slack_card_one_per_message"),
        ]
        indexes = [
            models.Index(
                fields=["available_at"],
                condition=Q(posted_revision__lt=F("wanted_revision")),
                name="slack_card_behind",
            ),
        ]

    def __str__(self) -> str:
        return f"card of {self.refund_id} ({self.posted_revision}/{self.wanted_revision})"

    @property
    def behind(self) -> bool:
        return self.posted_revision < self.wanted_revision


class InteractionStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    DONE = "done", "Done"
    REFUSED = "refused", "Refused (the person may not do this; told why)"
    FAILED = "failed", "Failed"


class SlackInteraction(models.Model):
    """One signed request from Slack's interactivity (a button, a modal submission): the inbox.

    Recorded before it is acknowledged; the unique digest of its signature is
    what refuses a replay of the same signed request, in every web process.
    The slow part (who is tapping, the decision, the answer) runs in Celery.
    """

    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    # sha256 of "v0:{timestamp}:{body}" as signed: one row per signed request, ever.
    digest = models.CharField(max_length=64, unique=True)
    request_timestamp = models.BigIntegerField()
    kind = models.CharField(max_length=40)  # block_actions, view_submission …
    action_id = models.CharField(max_length=60, blank=True)  # approve, edit, decline, or the modal's callback_id
    refund_public_id = models.CharField(max_length=40, blank=True, db_index=True)
    slack_user_id = models.CharField(max_length=40, blank=True)
    slack_team_id = models.CharField(max_length=40, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=InteractionStatus.choices, default=InteractionStatus.RECEIVED)
    outcome = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.action_id} {self.refund_public_id} by {self.slack_user_id}"


class DigestRun(models.Model):
    """The weekly digest of one ISO week, sent once: what makes a second beat firing or command a no-op.

    `integrations.digest_send.digest_send` claims the row (created, or taken
    over when an earlier claim's lease ran out without sending) before it emails, and
    records who it emailed after: a second caller finds the week sent, or being sent,
    and sends nothing. `manage.py send_digest --force` is the one way to send a week
    again. The Slack post is the row's own small outbox: the rendered blocks are kept
    here (the channel gets the numbers the email had), and `integrations.slack.post_digest`
    stores the message's `slack_ts`, so a retried task never posts twice.
    """

    week = models.CharField(max_length=8, unique=True)  # ISO week, "2026-W45"
    created_at = models.DateTimeField(auto_now_add=True)
    # Held by the sender between claiming the week and recording the emails.
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)  # the addresses emailed, in order
    sends = models.PositiveIntegerField(default=0)  # 1, or more after `--force`
    # The Slack post: wanted when the integration was on at sending; done once `slack_ts` is set.
    slack_wanted = models.BooleanField(default=False)
    slack_text = models.TextField(blank=True)  # the notification / fallback text
    slack_blocks = models.JSONField(default=list, blank=True)
    slack_channel = models.CharField(max_length=40, blank=True)
    slack_ts = models.CharField(max_length=40, blank=True)
    slack_posted_at = models.DateTimeField(null=True, blank=True)
    # Delivery, as SlackCard's: not before `slack_available_at` (429 Retry-After, 5xx backoff);
    # one task calling Slack until `slack_lease_until`; consecutive failures in `slack_attempts`.
    slack_available_at = models.DateTimeField(null=True, blank=True)
    slack_lease_until = models.DateTimeField(null=True, blank=True)
    slack_attempts = models.PositiveIntegerField(default=0)
    slack_last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-week"]

    def __str__(self) -> str:
        return f"digest {self.week}"

    @property
    def slack_pending(self) -> bool:
        return self.slack_wanted and not self.slack_ts
