"""Month close and the four-eyes reopen of the ledger's periods (docs/ledger.md "Periods", docs/runbooks.md).

A month is open until finance closes it. Closing is refused while the
month holds open reconciliation exceptions, and only warns about refunds
still pending: an exception is a difference nobody has explained yet, and
closing would freeze figures known to be in doubt (fixing them later needs a
reopen, which needs two people); a pending refund is an ordinary liability
at month end, whose settlement belongs to the month it happens in.

Reopening needs two finance users: one asks (with a reason), another
approves; the database refuses an approval by the requester.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from ledger.calendar import business_timezone, business_today, month_start, next_month
from ledger.enums import PeriodState, ReopenState
from ledger.models import AccountingPeriod, PeriodReopenRequest
from reconciliation.enums import ItemKind
from reconciliation.models import ReconciliationItem, ReconciliationRun
from refunds.enums import RefundState
from refunds.models import Refund
from refunds.permissions import finance_refusal, second_finance_refusal

# Approved but neither settled nor reversed: REFUND_PENDING is booked, the money has not moved yet.
PENDING_STATES = (RefundState.APPROVED, RefundState.SUBMITTING, RefundState.PROVIDER_PENDING)


@dataclass(frozen=True)
class CloseReadiness:
    """What stands in the way of closing a month (refusals) and what finance should know (warnings)."""

    month: date
    open_exceptions: int = 0
    exception_days: list[date] = field(default_factory=list)
    pending_refunds: int = 0
    days_without_run: list[date] = field(default_factory=list)
    not_ended: bool = False

    @property
    def refusals(self) -> list[str]:
        reasons = []
        if self.not_ended:
            reasons.append(f"{self.month:%B %Y} has not ended yet.")
        if self.open_exceptions:
            days = ", ".join(f"{day:%d}" for day in self.exception_days[:10])
            reasons.append(
                f"{self.open_exceptions} reconciliation exception(s) are still open (days {days}): "
                "resolve them, with a correcting entry if the ledger is wrong, then close."
            )
        return reasons

    @property
    def warnings(self) -> list[str]:
        notes = []
        if self.pending_refunds:
            notes.append(
                f"{self.pending_refunds} refund(s) approved by month end are not settled yet; they stay in "
                "refunds payable and settle in the month they are paid."
            )
        if self.days_without_run:
            notes.append(f"{len(self.days_without_run)} day(s) of the month have no reconciliation run.")
        return notes


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    tz = business_timezone()
    return datetime.combine(month, time(), tz), datetime.combine(next_month(month), time(), tz)


def period_readiness(*, month: date) -> CloseReadiness:
    """Whether `month` may be closed now, and what to know before closing it."""
    month = month_start(month)
    end_day = next_month(month)
    if month >= month_start(business_today()):
        return CloseReadiness(month=month, not_ended=True)
    open_items = ReconciliationItem.objects.filter(
        run__is_current=True, run__day__gte=month, run__day__lt=end_day, resolved=False
    ).exclude(kind=ItemKind.MATCHED)
    exception_days = sorted(set(open_items.values_list("run__day", flat=True)))
    _start, end = _month_bounds(month)
    pending = Refund.objects.filter(state__in=PENDING_STATES, decided_at__lt=end).count()
    run_days = set(
        ReconciliationRun.objects.filter(is_current=True, day__gte=month, day__lt=end_day).values_list("day", flat=True)
    )
    all_days = [date.fromordinal(ordinal) for ordinal in range(month.toordinal(), end_day.toordinal())]
    return CloseReadiness(
        month=month,
        open_exceptions=open_items.count(),
        exception_days=exception_days,
        pending_refunds=pending,
        days_without_run=[day for day in all_days if day not in run_days],
    )


def _period_locked(month: date) -> AccountingPeriod:
    """The month's period row, created if missing, locked FOR UPDATE: postings into it wait (they read it FOR SHARE)."""
    AccountingPeriod.objects.bulk_create([AccountingPeriod(month=month)], ignore_conflicts=True)
    return AccountingPeriod.objects.select_for_update().get(month=month)


def period_close(*, month: date, actor: Actor, note: str = "") -> AccountingPeriod:
    """Close `month`: from now on no journal entry is booked into it. Closing a closed month changes nothing.

    Refused (ERR_CONFLICT_STATE) while the month has not ended or holds open
    reconciliation exceptions; pending refunds are only reported in the audit
    note. Side effects, in order, in one transaction: the period row created
    if missing and locked (a posting in flight finishes first; one that
    starts later is booked into the next open month), the period closed (who,
    when, note), audit event `ledger.period_closed` with the warnings.
    """
    refusal = finance_refusal(actor.user)
    if refusal is not None:
        raise refusal
    month = month_start(month)
    with transaction.atomic():
        period = _period_locked(month)
        if period.is_closed:
            return period
        readiness = period_readiness(month=month)
        if readiness.refusals:
            raise DomainError(ERR_CONFLICT_STATE, " ".join(readiness.refusals))
        period.state, period.closed_by, period.closed_at = PeriodState.CLOSED, actor.user, timezone.now()
        period.close_note = (note or "").strip()
        period.save(update_fields=["state", "closed_by", "closed_at", "close_note"])
        audit_record(
            actor=actor,
            action=AuditAction.LEDGER_PERIOD_CLOSED,
            subject=f"period {month:%Y-%m}",
            note=" ".join([period.close_note, *readiness.warnings]).strip(),
            before={"state": PeriodState.OPEN},
            after={
                "state": PeriodState.CLOSED,
                "pending_refunds": readiness.pending_refunds,
                "days_without_run": len(readiness.days_without_run),
            },
        )
    return period


def period_reopen_request(*, month: date, reason: str, actor: Actor) -> PeriodReopenRequest:
    """Ask for a closed month to be reopened; a second finance user decides (`period_reopen_approve`).

    Side effects, in order, in one transaction: the period locked, the
    request written (one pending request per month, which the database
    enforces), audit event `ledger.period_reopen_requested`.
    """
    refusal = finance_refusal(actor.user)
    if refusal is not None:
        raise refusal
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(ERR_VALIDATION, "Say why the month must be reopened.", field="reason")
    month = month_start(month)
    with transaction.atomic():
        period = _period_locked(month)
        if not period.is_closed:
            raise DomainError(ERR_CONFLICT_STATE, f"{month:%B %Y} is open: there is nothing to reopen.")
        try:
            with transaction.atomic():
                request = PeriodReopenRequest.objects.create(period=period, reason=reason, requested_by=actor.user)
        except IntegrityError:
            raise DomainError(
                ERR_CONFLICT_STATE, f"A reopen of {month:%B %Y} is already waiting for approval."
            ) from None
        audit_record(
            actor=actor,
            action=AuditAction.LEDGER_PERIOD_REOPEN_REQUESTED,
            subject=f"period {month:%Y-%m}",
            note=reason,
            after={"request": request.pk},
        )
    return request


def _request_locked(request_id: int) -> PeriodReopenRequest:
    """The request and its period, both rows locked: two approvers queue here."""
    try:
        return (
            PeriodReopenRequest.objects.select_for_update(of=("self", "period"))
            .select_related("period", "requested_by")
            .get(pk=request_id)
        )
    except PeriodReopenRequest.DoesNotExist:
        raise DomainError(ERR_VALIDATION, "No such reopen request.") from None


def _already_decided(request: PeriodReopenRequest) -> DomainError:
    who = request.decided_by.get_username() if request.decided_by else "someone"
    return DomainError(ERR_CONFLICT_STATE, f"This reopen request was already {request.state} by {who}.")


def period_reopen_approve(*, request_id: int, actor: Actor, note: str = "") -> PeriodReopenRequest:
    """A second finance user approves a reopen: the month is open again.

    Refused for the requester (ERR_AUTHZ_MAKER_CHECKER; the database's
    four-eyes constraint refuses it too), for whoever administers access, and
    for a request already decided (ERR_CONFLICT_STATE: of two approvers at
    once, the second waits on the row lock and is told). Side effects, in
    order, in one transaction: request and period locked, request approved,
    period open, audit event `ledger.period_reopened`.
    """
    with transaction.atomic():
        request = _request_locked(request_id)
        refusal = second_finance_refusal(actor.user, first_user_id=request.requested_by_id, what="reopen request")
        if refusal is not None:
            raise refusal
        if request.state != ReopenState.PENDING:
            raise _already_decided(request)
        request.state, request.decided_by, request.decided_at = ReopenState.APPROVED, actor.user, timezone.now()
        request.decision_note = (note or "").strip()
        request.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        period = request.period
        closed = {"state": period.state, "closed_by": period.closed_by_id, "closed_at": str(period.closed_at)}
        period.state, period.closed_by, period.closed_at = PeriodState.OPEN, None, None
        period.save(update_fields=["state", "closed_by", "closed_at"])
        audit_record(
            actor=actor,
            action=AuditAction.LEDGER_PERIOD_REOPENED,
            subject=f"period {period.month:%Y-%m}",
            note=f"requested by {request.requested_by.get_username()}: {request.reason}"
            + (f"; approved: {request.decision_note}" if request.decision_note else ""),
            before=closed,
            after={"state": PeriodState.OPEN, "request": request.pk},
        )
    return request


def period_reopen_reject(*, request_id: int, actor: Actor, note: str) -> PeriodReopenRequest:
    """Reject a reopen request (the requester may withdraw their own); the month stays closed. Audited."""
    refusal = finance_refusal(actor.user)
    if refusal is not None:
        raise refusal
    note = (note or "").strip()
    if not note:
        raise DomainError(ERR_VALIDATION, "Say why the reopen is rejected.", field="note")
    with transaction.atomic():
        request = _request_locked(request_id)
        if request.state != ReopenState.PENDING:
            raise _already_decided(request)
        request.state, request.decided_by, request.decided_at = ReopenState.REJECTED, actor.user, timezone.now()
        request.decision_note = note
        request.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        audit_record(
            actor=actor,
            action=AuditAction.LEDGER_PERIOD_REOPEN_REJECTED,
            subject=f"period {request.period.month:%Y-%m}",
            note=note,
            after={"state": ReopenState.REJECTED, "request": request.pk},
        )
    return request
