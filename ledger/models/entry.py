from django.db import models

from ledger.enums import EntryType


class JournalEntry(models.Model):
    """One balanced, immutable journal entry (SPEC §4).

    PostgreSQL enforces what Python only promises (migration 0002): rows of
    this table and of postings can never be updated or deleted, and at commit
    the postings of each entry sum to zero per currency. At most one entry of
    each type per refund, so a retried task cannot post twice.
    """

    entry_type = models.CharField(max_length=30, choices=EntryType.choices)
    refund = models.ForeignKey("refunds.Refund", on_delete=models.PROTECT, related_name="ledger_entries")
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField(help_text="Total debited (= total credited) in minor units.")
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(fields=["refund", "entry_type"], name="ledger_one_entry_per_type_per_refund"),
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="ledger_entry_amount_positive"),
            models.CheckConstraint(condition=models.Q(entry_type__in=EntryType.values), name="ledger_entry_type_known"),
        ]

    def __str__(self) -> str:
        return f"{self.entry_type} {self.refund_id}"


class Posting(models.Model):
    """A debit (positive) or credit (negative) on one account."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="postings")
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount_minor=0), name="ledger_posting_not_zero"),
        ]
