from django.conf import settings
from django.db import models
from django.db.models.lookups import Exact
from simple_history.models import HistoricalRecords

from core.db import JsonTypeOf
from refunds.enums import PolicyStatus, Reason
from refunds.limits import default_limits_table
from refunds.replies import default_reply_templates


def default_limits() -> dict[str, dict[str, int | None]]:
    return default_limits_table()


def default_ceilings() -> dict[str, str]:
    # The single-number ceilings before limits were per currency: migration 0001 still names this default.
    return {reason: "500.00" for reason in Reason.values if reason != Reason.GOODWILL}


def default_evidence_reasons() -> list[str]:
    return [Reason.QUALITY]


def default_fee_schedule_reasons() -> list[str]:
    # A customer calling off a booking asks with reason "other"; quality, not received, duplicates and
    # pricing errors are the merchant's side and are refunded whatever the date.
    return [Reason.OTHER]


def default_fee_schedule() -> list[dict[str, int]]:
    # Days before the service starts -> percent of the price refunded.
    return [{"min_days": 7, "percent": 100}, {"min_days": 2, "percent": 50}, {"min_days": 0, "percent": 0}]


class RefundPolicy(models.Model):
    """One version of the refund policy. Versions are never edited in place.

    A version starts as a draft (risk wrote it) and applies only once a
    second risk user approved it (four-eyes) and its activation time has
    come; the approved version that activated last is in force
    (`policy_get_active`). Every refund stores the version that decided it,
    so "which rule applied then" survives later edits.

    Money limits are per currency (`limits`, SPEC §3.2): for each ISO
    currency, in its own minor units, each reason's auto-approve ceiling,
    the goodwill dual-control threshold and the high-value dual-control
    threshold (refunds.services.policy_limits describes the table).
    """

    version = models.PositiveIntegerField(unique=True)
    window_days = models.PositiveIntegerField(default=60)
    limits = models.JSONField(default=default_limits)
    evidence_required_reasons = models.JSONField(default=default_evidence_reasons)
    velocity_max_per_24h = models.PositiveIntegerField(default=5)
    cancellation_fee_schedule = models.JSONField(default=default_fee_schedule)
    fee_schedule_reasons = models.JSONField(default=default_fee_schedule_reasons)
    # {language: {kind: template}} for en, de, ar and the kinds of refunds.replies.REPLY_KINDS: the reply
    # the policy drafts, in the customer's language, with placeholders filled when the email is sent.
    reply_templates = models.JSONField(default=default_reply_templates)
    # Instruments beyond cash (issue 15, docs/instruments.md). Store credit: customers may ask for a code
    # for the merchant's checkout instead of money back, worth the refund plus a bonus (percent, set by
    # risk), valid for `store_credit_expiry_days` (empty: never expires).
    store_credit_enabled = models.BooleanField(default=False)
    store_credit_bonus_percent = models.PositiveSmallIntegerField(default=0)
    store_credit_expiry_days = models.PositiveIntegerField(null=True, blank=True, default=365)
    # Services (orders with a start and an end): a refund for the days not used, after the cancellation tier's fee.
    proration_enabled = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Governance (four-eyes): a draft until a second risk user approves or rejects it.
    status = models.CharField(max_length=16, choices=PolicyStatus.choices, default=PolicyStatus.DRAFT)
    activates_at = models.DateTimeField(
        null=True, blank=True, help_text="When an approved version starts to apply; empty on a draft: on approval."
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=300, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "refund policies"
        permissions = [("approve_refundpolicy", "Can approve or reject another user's policy draft (four-eyes)")]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=PolicyStatus.values), name="policy_status_known"),
            # Four-eyes, in the database too: whoever wrote a version never approves or rejects it.
            models.CheckConstraint(
                condition=models.Q(reviewed_by__isnull=True)
                | models.Q(created_by__isnull=True)
                | ~models.Q(reviewed_by=models.F("created_by")),
                name="policy_reviewer_not_author",
            ),
            # An approved version knows when it applies from; a draft has no reviewer yet.
            models.CheckConstraint(
                condition=~models.Q(status=PolicyStatus.APPROVED)
                | models.Q(activates_at__isnull=False, reviewed_at__isnull=False),
                name="policy_approved_has_activation",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=PolicyStatus.DRAFT)
                | models.Q(reviewed_by__isnull=True, reviewed_at__isnull=True),
                name="policy_draft_not_reviewed",
            ),
            models.CheckConstraint(
                condition=models.Q(store_credit_bonus_percent__lte=100), name="policy_store_credit_bonus_0_to_100"
            ),
            # The table is read as {currency: {column: minor units}}: a list or a number would break evaluation.
            models.CheckConstraint(
                condition=Exact(JsonTypeOf("limits"), "object"),
                name="policy_limits_is_object",
            ),
        ]

    def __str__(self) -> str:
        return f"policy v{self.version} ({self.get_status_display()})"
