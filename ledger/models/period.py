from django.conf import settings
from django.db import models

from ledger.enums import PeriodState, ReopenState


class AccountingPeriod(models.Model):
    """One calendar month of the books, open or closed (docs/ledger.md "Periods").

    A month without a row is open: the first posting dated into it inserts
    the row (the database trigger of migration 0005 does, and so does
    `ledger.services.booking_date`). No journal entry may be booked into a
    closed month; PostgreSQL refuses the insert, whoever sends it.
    """

    month = models.DateField(primary_key=True, help_text="The first day of the month.")
    state = models.CharField(max_length=10, choices=PeriodState.choices, default=PeriodState.OPEN)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    close_note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=PeriodState.values), name="ledger_period_state_known"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="ledger_period_starts_on_the_first"),
            models.CheckConstraint(
                condition=models.Q(state=PeriodState.OPEN) | models.Q(closed_at__isnull=False),
                name="ledger_closed_period_has_closed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.state}"

    @property
    def is_closed(self) -> bool:
        return self.state == PeriodState.CLOSED


class PeriodReopenRequest(models.Model):
    """A finance user asks to reopen a closed month; a different finance user approves or rejects it.

    The database refuses a decision by the requester and a second pending
    request for the same month.
    """

    period = models.ForeignKey(AccountingPeriod, on_delete=models.PROTECT, related_name="reopen_requests")
    reason = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=ReopenState.choices, default=ReopenState.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=ReopenState.values), name="ledger_reopen_state_known"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="ledger_reopen_reason_required"),
            models.UniqueConstraint(
                fields=["period"], condition=models.Q(state=ReopenState.PENDING), name="ledger_one_pending_reopen"
            ),
            # Four-eyes, in the database: whoever asked cannot be who approved.
            models.CheckConstraint(
                condition=~models.Q(state=ReopenState.APPROVED)
                | (models.Q(decided_by__isnull=False) & ~models.Q(decided_by=models.F("requested_by"))),
                name="ledger_reopen_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"reopen {self.period_id:%Y-%m} {self.state}"
