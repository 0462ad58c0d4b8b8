"""Reconciliation runs, their items, and trial balance checks (SPEC §7, docs/reconciliation.md).

A run is the result of comparing one day of one provider with our refunds and
ledger. Re-running a day never edits the old result: a new run is written and
the old one is marked superseded (kept as history). At most one run per
(day, provider) is current, which the database enforces.
"""

from django.conf import settings
from django.db import models

from reconciliation.enums import ItemKind, ResolutionKind, RunSource, RunStatus


class ReconciliationRun(models.Model):
    day = models.DateField()
    provider = models.CharField(max_length=20)
    source = models.CharField(max_length=10, choices=RunSource.choices)
    source_name = models.CharField(max_length=255, blank=True, help_text="Uploaded file name or the provider API base.")
    # Where a file run's upload is kept (default storage): the evidence of what was reconciled.
    upload_path = models.CharField(max_length=255, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    is_current = models.BooleanField(default=False)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )
    provider_rows = models.PositiveIntegerField(default=0, help_text="Rows read from the provider side.")
    item_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    exception_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="Items per kind.")
    mismatch_rate_pct = models.DecimalField(max_digits=7, decimal_places=3, default=0)
    totals = models.JSONField(default=dict, blank=True, help_text="Per currency: ledger, provider, difference.")
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "provider"], condition=models.Q(is_current=True), name="recon_one_current_run_per_day"
            ),
            models.CheckConstraint(condition=models.Q(status__in=RunStatus.values), name="recon_run_status_known"),
            models.CheckConstraint(condition=models.Q(source__in=RunSource.values), name="recon_run_source_known"),
            models.CheckConstraint(
                condition=~models.Q(is_current=True) | models.Q(status=RunStatus.SUCCEEDED),
                name="recon_current_run_succeeded",
            ),
        ]
        indexes = [models.Index(fields=["day", "provider"], name="recon_run_day_provider_idx")]

    def __str__(self) -> str:
        return f"reconciliation {self.day} {self.provider} #{self.pk}"


class ReconciliationItem(models.Model):
    """One refund of the run's day as both sides see it, classified.

    Rows are written in bulk by one INSERT … SELECT (reconciliation.classify),
    so every column is listed there too. Foreign keys carry no database
    constraint and the run index is composite: a day can hold a million items,
    and per-row constraint checks would dominate the run time. Refunds are never
    deleted (PROTECT everywhere else) and runs are never deleted, so the
    references stay valid.
    """

    run = models.ForeignKey(
        ReconciliationRun, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="items"
    )
    kind = models.CharField(max_length=30, choices=ItemKind.choices)
    provider_refund_id = models.CharField(max_length=100, null=True, blank=True)
    refund = models.ForeignKey(
        "refunds.Refund",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    refund_public_id = models.CharField(max_length=32, blank=True)
    our_amount_minor = models.BigIntegerField(null=True, blank=True)
    our_currency = models.CharField(max_length=3, blank=True)
    our_state = models.CharField(max_length=20, blank=True)
    ledger_settled_at = models.DateTimeField(null=True, blank=True, help_text="When REFUND_SETTLED was posted.")
    provider_amount_minor = models.BigIntegerField(null=True, blank=True)
    provider_currency = models.CharField(max_length=3, blank=True)
    provider_status = models.CharField(max_length=20, blank=True)
    provider_created_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    resolved = models.BooleanField(default=False)
    resolution_note = models.TextField(blank=True)
    # A database default: the classifying INSERT … SELECT does not list this column.
    resolution_kind = models.CharField(
        max_length=20, choices=ResolutionKind.choices, blank=True, default="", db_default=""
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, db_index=False, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=ItemKind.values), name="recon_item_kind_known"),
        ]
        indexes = [
            models.Index(fields=["run", "id"], name="recon_item_run_idx"),
            # Exceptions are what people page through; matched rows stay out of this index.
            models.Index(
                fields=["run", "kind"], condition=~models.Q(kind=ItemKind.MATCHED), name="recon_item_exception_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.provider_refund_id or self.refund_public_id}"

    @property
    def is_exception(self) -> bool:
        return self.kind != ItemKind.MATCHED

    @property
    def difference_minor(self) -> int | None:
        """Provider minus ours, when both sides have an amount in the same currency."""
        if self.our_amount_minor is None or self.provider_amount_minor is None:
            return None
        if self.our_currency != self.provider_currency:
            return None
        return self.provider_amount_minor - self.our_amount_minor


class TrialBalanceCheck(models.Model):
    """A stored result of "all postings sum to zero per currency" (SPEC §4).

    Summing every posting costs a full scan, so screens and the metrics
    endpoint read the latest stored check instead of recomputing it.
    """

    checked_at = models.DateTimeField(auto_now_add=True, db_index=True)
    balances = models.JSONField(default=dict, help_text="Sum of postings per currency, minor units.")
    is_balanced = models.BooleanField()
    checked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-checked_at", "-id"]

    def __str__(self) -> str:
        return f"trial balance {self.checked_at:%Y-%m-%d %H:%M} {'ok' if self.is_balanced else 'UNBALANCED'}"
