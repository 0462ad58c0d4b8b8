"""The small contract every payment provider implements (SPEC §6, STYLE §5).

A provider turns "refund this much of that payment" into one of three
normalised outcomes, so the refund services never look at a processor's
vocabulary. Two kinds of trouble are told apart by exception type, because the
caller must react to them in opposite ways:

* `ProviderUnavailable` - we do not know whether the call took effect (timeout,
  connection refused, HTTP 5xx/429/409). The caller retries later with the SAME
  idempotency key, which is what makes the retry safe.
* `ProviderRejected` - the provider answered and refused; nothing happened and
  repeating the same request cannot change that.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

OutcomeStatus = Literal["succeeded", "pending", "failed"]


class FailureCode(enum.StrEnum):
    """Our processor-independent failure vocabulary.

    Values are plain strings, so they can be stored and compared as such.
    """

    EXPIRED_OR_CANCELED_CARD = "expired_or_canceled_card"
    LOST_OR_STOLEN_CARD = "lost_or_stolen_card"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    DISPUTED = "disputed"
    DECLINED = "declined"
    CANCELED = "canceled"
    CHARGE_ALREADY_REFUNDED = "charge_already_refunded"
    AMOUNT_TOO_LARGE = "amount_too_large"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    IDEMPOTENCY_MISMATCH = "idempotency_mismatch"
    UNKNOWN = "unknown"


# A failed refund may be tried again (SPEC §3.1 failed --retry--> submitting)
# only when waiting can change the answer: a merchant balance that was short.
RETRYABLE_FAILURE_CODES: frozenset[str] = frozenset({FailureCode.INSUFFICIENT_FUNDS})


@dataclass(frozen=True)
class ProviderOutcome:
    """What the provider says about one refund, in our words.

    `raw` keeps the provider's own object for the audit trail and for fields we
    do not normalise (amount, currency, created).
    """

    status: OutcomeStatus
    provider_refund_id: str | None
    failure_code: str | None = None
    retryable: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in ("succeeded", "pending", "failed"):
            raise ValueError(f"unknown outcome status {self.status!r}")
        if self.status != "failed" and (self.failure_code or self.retryable):
            raise ValueError("only a failed outcome carries a failure code")

    @property
    def is_final(self) -> bool:
        """True when no later webhook can change this outcome."""
        return self.status != "pending"


class ProviderError(Exception):
    """Base of everything a provider raises; carries what the processor said."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.raw = raw or {}


class ProviderUnavailable(ProviderError):
    """Transient: the call may or may not have taken effect.

    Retry later with the same idempotency key; never with a new one.
    """


class ProviderRejected(ProviderError):
    """Final: the provider answered and refused; nothing was created."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        http_status: int | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, raw=raw)


class IdempotencyMismatch(ProviderRejected):
    """The idempotency key was used before with other parameters.

    This is a bug on our side (a key must be stable per refund AND its
    parameters), so it is final and must be investigated, not retried.
    """


class Provider(abc.ABC):
    """A payment provider able to refund a captured payment.

    Each payment records the provider that holds it (`Payment.provider`, a
    name of `providers.registry.PROVIDERS`); everything the domain asks a
    provider goes through this contract, so no processor's vocabulary, header
    or status leaks out of its package.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    supports_partial: ClassVar[bool] = True
    # No API to call: approval opens a payout task, and finance marking it paid completes the refund.
    settles_by_hand: ClassVar[bool] = False

    @abc.abstractmethod
    def execute_refund(
        self,
        *,
        payment_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderOutcome:
        """Ask the provider to refund `amount_minor` of `payment_id`.

        Must be safe to call again with the same arguments after any
        `ProviderUnavailable`: the idempotency key guarantees one refund.
        """

    @abc.abstractmethod
    def fetch_refund(self, *, provider_refund_id: str) -> ProviderOutcome:
        """Read the current state of a refund (polling when no webhook came)."""

    @abc.abstractmethod
    def iter_refunds(self, *, created_gte: int, created_lt: int, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Yield every refund created in [created_gte, created_lt) (unix seconds).

        Each item is a normalised dict with the keys id, amount, currency,
        status (succeeded/pending/failed), failure_code, payment_intent,
        created and metadata - what reconciliation (SPEC §7) compares.
        """
