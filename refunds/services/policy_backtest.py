"""Backtest a policy draft: what it would have decided over recent refunds, next to the active policy.

Both policies are re-run through `policy_evaluate` on the same inputs, so the
comparison is like for like. The inputs are rebuilt as they were when each
refund was requested where the records allow it, and the page says where
they do not:

- amount: as requested (before any agent edit: the first edit's "before");
- time: the refund's creation time (window since capture, fee-schedule tier);
- velocity: the customer's refunds created in the 24 hours before it — the
  same count the request made, refunds are never deleted;
- evidence: what is attached now (evidence added later counts as present);
- cancellation fee schedule: what the payment has refunded or reserved
  *today* is subtracted, not what it had then.

What the active policy re-evaluated says can differ from what was decided
then (an older version decided it, or one of the inputs above moved);
`decided_differently` counts those refunds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from credits.services.issue import credit_bonus_minor
from refunds.enums import DecisionKind, PolicyOutcome, RefundInstrument
from refunds.models import Decision, EvidenceFile, Refund, RefundPolicy
from refunds.services.policy import PolicyDecision, policy_evaluate

BACKTEST_DAYS = 30
# The page lists this many changed refunds at most (the counts always cover all of them).
CHANGED_LISTED = 200


@dataclass
class OutcomeTotals:
    """How many refunds a policy puts in one outcome, and their amounts per currency (minor units)."""

    count: int = 0
    amounts: dict[str, int] = field(default_factory=dict)

    def add(self, amount_minor: int, currency: str) -> None:
        self.count += 1
        self.amounts[currency] = self.amounts.get(currency, 0) + amount_minor


@dataclass(frozen=True)
class BacktestRow:
    refund: Refund
    amount_minor: int  # as requested
    active: PolicyDecision
    draft: PolicyDecision


@dataclass
class Backtest:
    draft: RefundPolicy
    active: RefundPolicy
    since: datetime
    until: datetime
    evaluated: int = 0
    # "auto_approve", "review", and "dual_control" (the reviewed ones needing two approvals).
    active_totals: dict[str, OutcomeTotals] = field(default_factory=dict)
    draft_totals: dict[str, OutcomeTotals] = field(default_factory=dict)
    changed: list[BacktestRow] = field(default_factory=list)
    changed_count: int = 0
    decided_differently: int = 0
    # Refunds of the period paid as store credit, per currency: the bonus each version would add (issue 15).
    store_credit: dict[str, StoreCreditTotals] = field(default_factory=dict)


@dataclass
class StoreCreditTotals:
    count: int = 0
    refunded_minor: int = 0
    active_bonus_minor: int = 0
    draft_bonus_minor: int = 0


OUTCOME_KEYS = [PolicyOutcome.AUTO_APPROVE.value, PolicyOutcome.REVIEW.value, "dual_control"]


def _tally(totals: dict[str, OutcomeTotals], decision: PolicyDecision, amount_minor: int, currency: str) -> None:
    totals[decision.outcome].add(amount_minor, currency)
    if decision.approvals_required > 1:
        totals["dual_control"].add(amount_minor, currency)


def _backtest_refunds(since: datetime, until: datetime):
    first_edit = Decision.objects.filter(refund=OuterRef("pk"), kind=DecisionKind.EDIT).order_by("created_at", "pk")
    earlier_same_customer = (
        Refund.objects.filter(
            order__customer_id=OuterRef("order__customer_id"),
            created_at__gte=OuterRef("created_at") - timedelta(hours=24),
            created_at__lt=OuterRef("created_at"),
        )
        .order_by()
        .values("order__customer_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Refund.objects.filter(created_at__gte=since, created_at__lt=until)
        .select_related("payment__order", "order", "policy_version")
        .annotate(
            requested_minor=Coalesce(Subquery(first_edit.values("amount_before_minor")[:1]), "amount_minor"),
            velocity_then=Coalesce(Subquery(earlier_same_customer, output_field=IntegerField()), 0),
            has_evidence_file=Exists(EvidenceFile.objects.filter(refund=OuterRef("pk"))),
        )
        .order_by("created_at", "pk")
    )


def policy_backtest(
    *, draft: RefundPolicy, active: RefundPolicy, days: int = BACKTEST_DAYS, now: datetime | None = None
) -> Backtest:
    """Re-decide the refunds created in the last `days` days with the active policy and with `draft`.

    Reads only; the module docstring lists what is rebuilt as it was and what is today's data.
    """
    until = now or timezone.now()
    result = Backtest(draft=draft, active=active, since=until - timedelta(days=days), until=until)
    result.active_totals = {key: OutcomeTotals() for key in OUTCOME_KEYS}
    result.draft_totals = {key: OutcomeTotals() for key in OUTCOME_KEYS}
    for refund in _backtest_refunds(result.since, until).iterator(chunk_size=500):
        inputs = dict(
            payment=refund.payment,
            amount_minor=refund.requested_minor,
            reason=refund.reason,
            has_evidence=bool(refund.evidence) or refund.has_evidence_file,
            customer_refunds_24h=refund.velocity_then,
            now=refund.created_at,
        )
        by_active = policy_evaluate(policy=active, **inputs)
        by_draft = policy_evaluate(policy=draft, **inputs)
        result.evaluated += 1
        _tally(result.active_totals, by_active, refund.requested_minor, refund.currency)
        _tally(result.draft_totals, by_draft, refund.requested_minor, refund.currency)
        if (by_active.outcome, by_active.rule) != (refund.policy_outcome, refund.policy_rule):
            result.decided_differently += 1
        if (by_active.outcome, by_active.approvals_required, by_active.rule) != (
            by_draft.outcome,
            by_draft.approvals_required,
            by_draft.rule,
        ):
            result.changed_count += 1
            if len(result.changed) < CHANGED_LISTED:
                result.changed.append(BacktestRow(refund, refund.requested_minor, by_active, by_draft))
    _store_credit_tally(result)
    return result


def _store_credit_tally(result: Backtest) -> None:
    """What the period's store credits would have cost in bonus under each version (what risk changes)."""
    credits = Refund.objects.filter(
        created_at__gte=result.since, created_at__lt=result.until, instrument=RefundInstrument.STORE_CREDIT
    ).values_list("currency", "amount_minor")
    for currency, amount in credits.iterator(chunk_size=2000):
        totals = result.store_credit.setdefault(currency, StoreCreditTotals())
        totals.count += 1
        totals.refunded_minor += amount
        totals.active_bonus_minor += credit_bonus_minor(
            amount_minor=amount, bonus_percent=result.active.store_credit_bonus_percent
        )
        totals.draft_bonus_minor += credit_bonus_minor(
            amount_minor=amount, bonus_percent=result.draft.store_credit_bonus_percent
        )


__all__ = ["BACKTEST_DAYS", "Backtest", "BacktestRow", "OutcomeTotals", "policy_backtest"]
