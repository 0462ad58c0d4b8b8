"""The policy review page (risk, Django admin): a draft's backtest next to the version in force."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone

from console.presenters.formatting import money
from refunds.services.policy import PolicyDecision
from refunds.services.policy_backtest import OUTCOME_KEYS, Backtest, OutcomeTotals

OUTCOME_LABELS = {
    "auto_approve": "Auto-approved",
    "review": "Reviewed by an agent",
    "dual_control": "… of which two senior approvals (dual control)",
}


@dataclass(frozen=True)
class TotalsRow:
    label: str
    active_count: int
    active_amounts: str
    draft_count: int
    draft_amounts: str
    delta: str  # "+3", "−2", "" when equal


@dataclass(frozen=True)
class ChangedRow:
    public_id: str
    href: str
    created: str
    amount: str
    reason: str
    active: str
    draft: str


def _amounts(totals: OutcomeTotals) -> str:
    return ", ".join(money(amount, currency) for currency, amount in sorted(totals.amounts.items())) or "—"


def _decision(decision: PolicyDecision) -> str:
    approvals = ", two approvals" if decision.approvals_required > 1 else ""
    outcome = "auto-approve" if decision.outcome == "auto_approve" else "review"
    return f"{outcome}{approvals} — {decision.cited}"


def backtest_view(backtest: Backtest) -> dict:
    rows = []
    for key in OUTCOME_KEYS:
        active, draft = backtest.active_totals[key], backtest.draft_totals[key]
        difference = draft.count - active.count
        delta = "" if difference == 0 else (f"+{difference}" if difference > 0 else f"−{-difference}")
        rows.append(TotalsRow(OUTCOME_LABELS[key], active.count, _amounts(active), draft.count, _amounts(draft), delta))
    changed = [
        ChangedRow(
            public_id=row.refund.public_id,
            href=reverse("console:card", kwargs={"public_id": row.refund.public_id}),
            created=timezone.localtime(row.refund.created_at).strftime("%Y-%m-%d %H:%M %Z"),
            amount=money(row.amount_minor, row.refund.currency),
            reason=row.refund.reason,
            active=_decision(row.active),
            draft=_decision(row.draft),
        )
        for row in backtest.changed
    ]
    return {
        "since": backtest.since,
        "until": backtest.until,
        "evaluated": backtest.evaluated,
        "rows": rows,
        "changed": changed,
        "changed_count": backtest.changed_count,
        "changed_hidden": backtest.changed_count - len(changed),
        "decided_differently": backtest.decided_differently,
        "active_version": backtest.active.version,
        "draft_version": backtest.draft.version,
        "store_credit": [
            {
                "currency": currency,
                "count": totals.count,
                "refunded": money(totals.refunded_minor, currency),
                "active_bonus": money(totals.active_bonus_minor, currency),
                "draft_bonus": money(totals.draft_bonus_minor, currency),
            }
            for currency, totals in sorted(backtest.store_credit.items())
        ],
        "store_credit_active": _store_credit_terms(backtest.active),
        "store_credit_draft": _store_credit_terms(backtest.draft),
    }


def _store_credit_terms(policy) -> str:
    if not policy.store_credit_enabled:
        return "not offered"
    days = (
        "never expires" if policy.store_credit_expiry_days is None else f"valid {policy.store_credit_expiry_days} days"
    )
    return f"offered, bonus {policy.store_credit_bonus_percent}%, {days}"
