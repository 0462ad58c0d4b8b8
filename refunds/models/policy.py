from decimal import Decimal

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from refunds.enums import Reason
from refunds.replies import default_reply_templates


def default_ceilings() -> dict[str, str]:
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

    The highest version is in force; every refund stores the version that
    decided it, so "which rule applied then" survives later edits. Limits are
    major-unit decimals applied in the order's own currency (SPEC §3.2).
    """

    version = models.PositiveIntegerField(unique=True)
    window_days = models.PositiveIntegerField(default=60)
    auto_approve_ceilings = models.JSONField(default=default_ceilings)
    evidence_required_reasons = models.JSONField(default=default_evidence_reasons)
    velocity_max_per_24h = models.PositiveIntegerField(default=5)
    dual_control_threshold = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal("200.00"))
    cancellation_fee_schedule = models.JSONField(default=default_fee_schedule)
    fee_schedule_reasons = models.JSONField(default=default_fee_schedule_reasons)
    # {language: {kind: template}} for en, de, ar and the kinds of refunds.replies.REPLY_KINDS: the reply
    # the policy drafts, in the customer's language, with placeholders filled when the email is sent.
    reply_templates = models.JSONField(default=default_reply_templates)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "refund policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(dual_control_threshold__gte=0), name="policy_threshold_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"policy v{self.version}"
