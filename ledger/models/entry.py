from django.db import models

from ledger.calendar import business_today
from ledger.enums import REPEATABLE_ENTRY_TYPES, EntryType


class JournalEntry(models.Model):
    """One balanced, immutable journal entry (SPEC §4).

    PostgreSQL enforces what Python only promises (migration 0002): rows of
    this table and of postings can never be updated or deleted, and at commit
    the postings of each entry sum to zero per currency. At most one entry of
    each type per refund, so a retried task cannot post twice — except a store
    credit's redemptions, one entry per redemption row (credits app).

    Two dates (docs/ledger.md "Periods"): `event_on` is when the thing
    happened (the provider's settlement time for a webhook), `booked_on` the
    date it counts in. They differ only for a late item, whose event date
    falls in a closed month: it is booked on the first day of the next open
    month, and PostgreSQL refuses any entry booked into a closed month.
    A manual correcting entry has no refund.
    """

    entry_type = models.CharField(max_length=30, choices=EntryType.choices)
    refund = models.ForeignKey(
        "refunds.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField(help_text="Total debited (= total credited) in minor units.")
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    event_on = models.DateField(default=business_today, help_text="When the event happened (business calendar).")
    booked_on = models.DateField(default=business_today, db_index=True, help_text="The date it is booked in.")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "journal entries"
        constraints = [
            # A store credit's redemptions are many entries of one type: each is unique through the
            # redemption row that points at it (credits.StoreCreditRedemption.journal_entry).
            models.UniqueConstraint(
                fields=["refund", "entry_type"],
                condition=~models.Q(entry_type__in=sorted(REPEATABLE_ENTRY_TYPES)),
                name="ledger_one_entry_per_type_per_refund",
            ),
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="ledger_entry_amount_positive"),
            models.CheckConstraint(condition=models.Q(entry_type__in=EntryType.values), name="ledger_entry_type_known"),
            models.CheckConstraint(
                condition=models.Q(refund__isnull=False) | models.Q(entry_type=EntryType.CORRECTION),
                name="ledger_entry_refund_unless_correction",
            ),
            # A late item moves forward into an open month, never back.
            models.CheckConstraint(
                condition=models.Q(booked_on__gte=models.F("event_on")), name="ledger_entry_booked_not_before_event"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry_type} {self.refund_id or 'correction'}"


class Posting(models.Model):
    """A debit (positive) or credit (negative) on one account.

    PostgreSQL keeps postings partitioned by month of `booked_on`, a copy of
    the entry's (migration 0009, `core.partitions`): there the primary key
    is (id, booked_on), and the balance trigger refuses, at commit, a
    posting booked on another date than its entry.
    """

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="postings")
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField()
    booked_on = models.DateField(
        editable=False, help_text="Its journal entry's booked_on: the month it is partitioned by."
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount_minor=0), name="ledger_posting_not_zero"),
        ]
