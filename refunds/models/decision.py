from django.conf import settings
from django.db import models

from refunds.enums import DecisionKind


class Decision(models.Model):
    """A human (or system) decision on a refund: approve, deny, edit, cancel.

    One person gives at most one approval per refund: the unique constraint is
    what makes dual control impossible to satisfy twice with the same senior,
    even if two of their requests race.
    """

    refund = models.ForeignKey("refunds.Refund", on_delete=models.PROTECT, related_name="decisions")
    kind = models.CharField(max_length=10, choices=DecisionKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    api_key = models.ForeignKey("refunds.ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    as_senior = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    # A decline's internal rationale: for staff and the audit trail only. The customer gets `note` (the
    # message); this is never emailed, shown on the status page or returned by the merchant API.
    rationale = models.TextField(blank=True)
    amount_before_minor = models.BigIntegerField(null=True, blank=True)
    amount_after_minor = models.BigIntegerField(null=True, blank=True)
    reply_before = models.TextField(blank=True)
    reply_after = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["refund", "actor"],
                condition=models.Q(kind=DecisionKind.APPROVE),
                name="decision_one_approval_per_person",
            ),
            models.CheckConstraint(condition=models.Q(kind__in=DecisionKind.values), name="decision_kind_known"),
        ]

    @property
    def actor_label(self) -> str:
        return self.actor.get_username() if self.actor_id else "system"
