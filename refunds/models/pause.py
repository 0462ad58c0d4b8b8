from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from refunds.enums import PauseKind


class OperationsPause(models.Model):
    """A kill switch an operator or risk set during an incident (issue 16), and its history.

    A row is one pause: set with a required reason, lifted with `resumed_at`.
    `provider` is the provider it stops, or "" for every provider. At most one
    pause of a kind and scope is in force at a time (partial unique key), so
    two operators pausing at once make one pause, not two. Rows are never
    deleted: they are when and why money stopped moving.
    """

    kind = models.CharField(max_length=20, choices=PauseKind.choices)
    provider = models.CharField(max_length=30, blank=True, default="")
    reason = models.CharField(max_length=500)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Who paused, as the audit trail names them (a user, or "system:<command>" for manage.py).
    paused_by_label = models.CharField(max_length=150)
    paused_at = models.DateTimeField(db_default=Now())
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resumed_by_label = models.CharField(max_length=150, blank=True)
    resume_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-paused_at", "-id"]
        # Console "Kill switches" page (refunds.permissions.Perm.MANAGE_PAUSES): risk and the operations admin.
        permissions = [("manage_pauses", "Pause and resume auto-approval and provider submission")]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=PauseKind.values), name="pause_kind_known"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="pause_needs_reason"),
            models.CheckConstraint(
                condition=models.Q(resumed_at__isnull=True) | ~models.Q(resume_reason=""),
                name="pause_resume_needs_reason",
            ),
            models.UniqueConstraint(
                fields=["kind", "provider"],
                condition=models.Q(resumed_at__isnull=True),
                name="pause_one_in_force_per_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.provider or '*'}"
