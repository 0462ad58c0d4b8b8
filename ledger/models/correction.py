from django.conf import settings
from django.db import models

from ledger.enums import CorrectionState


class CorrectingEntry(models.Model):
    """A manual correcting journal entry under maker-checker (docs/ledger.md "Correcting entries").

    A finance user (the maker) drafts balanced lines with a reason; a second
    finance user (the checker) approves, which posts them as one CORRECTION
    journal entry, or rejects. The database refuses a checker who is the
    maker, a posted correction without its journal entry, and any change to
    the lines, currency, reason or maker once written (migration 0005).
    """

    currency = models.CharField(max_length=3)
    lines = models.JSONField(help_text='[["account code", signed minor units], …]; debit positive.')
    amount_minor = models.BigIntegerField(help_text="Total debited (= total credited).")
    reason = models.TextField()
    maker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=CorrectionState.choices, default=CorrectionState.DRAFT)
    checker = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, default="")
    journal_entry = models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="correction"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=CorrectionState.values), name="ledger_correction_state_known"
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="ledger_correction_reason_required"),
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="ledger_correction_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(checker__isnull=True) | ~models.Q(checker=models.F("maker")),
                name="ledger_correction_maker_checker",
            ),
            models.CheckConstraint(
                condition=(models.Q(state=CorrectionState.POSTED) & models.Q(journal_entry__isnull=False))
                | (~models.Q(state=CorrectionState.POSTED) & models.Q(journal_entry__isnull=True)),
                name="ledger_correction_posted_has_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"correction {self.pk} {self.state}"
