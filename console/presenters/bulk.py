"""Bulk decisions from the queue: what will happen to each selected refund, and what did.

The preview asks the same rules the services apply (`refunds.permissions`,
the decline-draft rule of `refunds.selectors`), so the one confirmation of a
batch says, refund by refund, which are approved outright, which only get
their first of two approvals, and which are refused and why. The services
decide again under their row locks when the batch runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q

from console.presenters.formatting import money
from refunds.enums import DecisionKind, RefundState
from refunds.models import Decision, Refund
from refunds.permissions import approval_refusal, decide_refusal
from refunds.selectors import reply_declines
from refunds.services.policy import high_value_threshold_minor, is_high_value

APPROVE = "approve"
DECLINE = "decline"
BULK_MAX = 50  # two pages of the queue: a batch stays one screen to confirm

# What happens (preview) or happened (result) to one refund of a batch.
WILL_APPROVE = "will_approve"
WILL_RECORD = "will_record"  # a first approval of two: dual control waits for a second senior
WILL_DECLINE = "will_decline"
APPROVED = "approved"
AWAITING = "awaiting"  # the approval is recorded; a second senior must approve
DECLINED = "declined"
UNCHANGED = "unchanged"  # already decided before the batch: the service answered idempotently
REFUSED = "refused"

DECLINE_DRAFT_REFUSAL = (
    "The drafted reply still declines this refund: open its card and write the approval reply first."
)


@dataclass(frozen=True)
class BulkLine:
    refund: Refund
    amount: str
    outcome: str
    text: str
    # Above its currency's high-value threshold: approving it needs its own tick on the confirmation.
    high_value: bool = False

    @property
    def refused(self) -> bool:
        return self.outcome == REFUSED


def bulk_refunds(public_ids: Sequence[str]) -> list[Refund]:
    """The selected refunds in the order selected (the queue's order), with their approvals counted."""
    found = {
        refund.public_id: refund
        for refund in Refund.objects.filter(public_id__in=public_ids)
        .select_related("order", "order__customer", "policy_version")
        .annotate(approvals_given=Count("decisions", filter=Q(decisions__kind=DecisionKind.APPROVE)))
    }
    return [found[public_id] for public_id in dict.fromkeys(public_ids) if public_id in found]


def _amount(refund: Refund) -> str:
    return money(refund.amount_minor, refund.currency)


def _not_waiting(refund: Refund) -> str:
    return f"Already {refund.get_state_display().lower()}: nothing to decide."


def approve_preview(refund: Refund, user: Any) -> BulkLine:
    """What approving `refund` in the batch will do for `user`."""
    amount = _amount(refund)
    approver_ids = list(
        Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).values_list("actor_id", flat=True)
    )
    refusal = approval_refusal(refund, user, approver_ids=approver_ids)
    if refusal is not None:
        return BulkLine(refund, amount, REFUSED, refusal.error().message)
    if refund.state != RefundState.REQUESTED:
        return BulkLine(refund, amount, REFUSED, _not_waiting(refund))
    if reply_declines(refund):
        return BulkLine(refund, amount, REFUSED, DECLINE_DRAFT_REFUSAL)
    given = len(approver_ids)
    # The batch's one confirmation is this page: a high-value refund is named as such here, as the
    # card's own confirmation names it (console.views.card), so nobody confirms one unawares.
    high_value = high_value_text(refund)
    if given + 1 < refund.approvals_required:
        return BulkLine(
            refund,
            amount,
            WILL_RECORD,
            f"{high_value}Your approval is recorded ({given + 1} of {refund.approvals_required}); "
            "it then needs a second approval from a different senior agent.",
            high_value=bool(high_value),
        )
    return BulkLine(
        refund,
        amount,
        WILL_APPROVE,
        f"{high_value}Approved: {amount} goes back; the customer gets the drafted reply.",
        high_value=bool(high_value),
    )


def high_value_text(refund: Refund) -> str:
    """'High value (above 2,000.00 USD). ' for a refund above its policy's high-value threshold, else ''."""
    if not is_high_value(refund.policy_version, refund.currency, refund.amount_minor):
        return ""
    threshold = high_value_threshold_minor(refund.policy_version, refund.currency) or 0
    return f"High value (above {money(threshold, refund.currency)}). "


def decline_preview(refund: Refund, user: Any) -> BulkLine:
    """What declining `refund` in the batch will do for `user`."""
    amount = _amount(refund)
    refusal = decide_refusal(user)
    if refusal is not None:
        return BulkLine(refund, amount, REFUSED, refusal.message)
    if refund.state != RefundState.REQUESTED:
        return BulkLine(refund, amount, REFUSED, _not_waiting(refund))
    return BulkLine(refund, amount, WILL_DECLINE, "Declined: the customer gets your message below.")


def bulk_preview(*, refunds: Sequence[Refund], action: str, user: Any) -> list[BulkLine]:
    preview = approve_preview if action == APPROVE else decline_preview
    return [preview(refund, user) for refund in refunds]


def bulk_summary(lines: Sequence[BulkLine]) -> dict[str, int]:
    """How many lines ended (or will end) each way, for the page's one-line summary."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.outcome] = counts.get(line.outcome, 0) + 1
    return counts
