"""The manual provider: refunds that finance pays out by hand (bank transfer, cash).

There is nothing to call, nothing to list and nobody to send webhooks.
Approval opens a payout task instead of an outbox message (`settles_by_hand`),
and finance marking it paid with a reference completes the refund (its
provider refund id is then `manual_<refund id>`). To reconcile a day, finance
uploads its own list of payouts in the refund list layout
(docs/reconciliation.md), with our status words.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import ClassVar

from providers.base import (
    OUTCOME_STATUSES,
    FailureCode,
    OutcomeStatus,
    Provider,
    ProviderOutcome,
    ProviderRejected,
    ReportRow,
)
from providers.reports import (
    REFUND_LIST_COLUMNS,
    REFUND_LIST_DESCRIPTION,
    guarded,
    has_columns,
    read_header,
    refund_list_rows,
    unknown_layout,
)

# A payout list speaks our words: succeeded, pending, failed — and, as payout lists always could
# (they share the refund-list layout), "requires_action" (still pending) and "canceled" (failed).
_STATUSES: dict[str, OutcomeStatus] = {
    **{status: status for status in OUTCOME_STATUSES},
    "requires_action": "pending",
    "canceled": "failed",
}


class ManualProvider(Provider):
    """Payouts made by finance; the only capabilities are `settles_by_hand` and reading a payout list."""

    name: ClassVar[str] = "manual"
    label: ClassVar[str] = "Manual payouts"
    settles_by_hand: ClassVar[bool] = True
    reads_reports: ClassVar[bool] = True

    def execute_refund(
        self, *, payment_id: str, amount_minor: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderOutcome:
        """Refused: a manual refund is paid by finance (approval opened a payout task instead)."""
        raise ProviderRejected(
            "manual payouts are paid by finance, not through an API", code=FailureCode.INVALID_REQUEST
        )

    def fetch_refund(self, *, provider_refund_id: str) -> ProviderOutcome:
        """Refused: the payout task, not a provider, holds the state of a manual refund."""
        raise ProviderRejected("manual payouts have no provider record to fetch", code=FailureCode.NOT_FOUND)

    def check_report_header(self, header: Sequence[str]) -> None:
        """Accept the header of a refund list (id, amount, currency, status)."""
        if not has_columns(header, REFUND_LIST_COLUMNS):
            raise unknown_layout(header, REFUND_LIST_DESCRIPTION)

    def report_rows(self, lines: Iterable[str]) -> Iterator[ReportRow]:
        """Parse finance's payout list (refund list layout), streaming."""
        reader, header = read_header(lines)
        self.check_report_header(header)
        yield from guarded(reader, refund_list_rows(reader, header, _STATUSES))
