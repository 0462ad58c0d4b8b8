"""The manual provider: refunds that finance pays out by hand (bank transfer, cash).

There is nothing to call. Approval opens a payout task instead of an outbox
message (`settles_by_hand`), and finance marking it paid with a reference
completes the refund; there is no listing to reconcile against.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from providers.base import FailureCode, Provider, ProviderOutcome, ProviderRejected


class ManualProvider(Provider):
    name: ClassVar[str] = "manual"
    label: ClassVar[str] = "Manual payouts"
    settles_by_hand: ClassVar[bool] = True

    def execute_refund(
        self, *, payment_id: str, amount_minor: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderOutcome:
        raise ProviderRejected(
            "manual payouts are paid by finance, not through an API", code=FailureCode.INVALID_REQUEST
        )

    def fetch_refund(self, *, provider_refund_id: str) -> ProviderOutcome:
        raise ProviderRejected("manual payouts have no provider record to fetch", code=FailureCode.NOT_FOUND)

    def iter_refunds(self, *, created_gte: int, created_lt: int, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return iter(())
