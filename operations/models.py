from django.db import models
from django.db.models.functions import Now


class SyntheticRun(models.Model):
    """One run of `manage.py synthetic_refund` (issue 16): a test-mode refund taken end to end.

    Kept in the database, not only in the process that ran it, so every web
    process's /metrics reports the same last result (operations.metrics),
    whichever worker or cron ran it. `steps` is `[{"step", "seconds", "ok"}]`
    in the order they ran; `error` says which step failed and why.
    """

    started_at = models.DateTimeField(db_default=Now())
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)  # None while running
    provider = models.CharField(max_length=30)
    refund_public_id = models.CharField(max_length=40, blank=True)
    steps = models.JSONField(default=list)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["ok", "-started_at"], name="synthetic_run_outcome_idx")]

    def __str__(self) -> str:
        return f"synthetic run {self.pk}"
