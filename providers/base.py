"""The small contract every payment provider implements (SPEC §6, §7, STYLE §5).

A provider turns "refund this much of that payment" into one of three
normalised outcomes, so the refund services never look at a processor's
vocabulary. Two kinds of trouble are told apart by exception type, because the
caller must react to them in opposite ways:

* `ProviderUnavailable` - we do not know whether the call took effect (timeout,
  connection refused, HTTP 5xx/429/409). The caller retries later with the SAME
  idempotency key, which is what makes the retry safe.
* `ProviderRejected` - the provider answered and refused; nothing happened and
  repeating the same request cannot change that.

Beyond executing refunds, a provider may list its refunds, read its own report
files and send signed webhooks. Which of these it can do is said by class
attributes (`lists_refunds`, `reads_reports`, `sends_webhooks`, `supports_void`), so callers ask
the capability rather than the provider's name; a method of a capability the
provider lacks raises `CapabilityMissing`. Everything crossing this boundary
is one of the normalised types below: `ProviderOutcome` (one refund's state),
`ProviderEvent` (one webhook event) and `ReportRow` (one refund as the
provider's side of a reconciliation).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, NamedTuple

OutcomeStatus = Literal["succeeded", "pending", "failed"]
OUTCOME_STATUSES: tuple[OutcomeStatus, ...] = ("succeeded", "pending", "failed")


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
    # A void asked for a payment the provider has captured meanwhile: there is no hold left to
    # release, the money was taken, and only a refund can give it back (issue 15).
    PAYMENT_ALREADY_CAPTURED = "payment_already_captured"
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
        if self.status not in OUTCOME_STATUSES:
            raise ValueError(f"unknown outcome status {self.status!r}")
        if self.status != "failed" and (self.failure_code or self.retryable):
            raise ValueError("only a failed outcome carries a failure code")

    @property
    def is_final(self) -> bool:
        """True when no later webhook can change this outcome."""
        return self.status != "pending"


@dataclass(frozen=True)
class ProviderEvent:
    """One webhook event of a provider, in our words.

    `payload` is the event as received, decoded from JSON: the inbox stores it
    and `Provider.parse_event` reads it back later (screens, reconciliation).
    `outcome` is None when the event is not about a refund; then the refund
    fields are None too. `provider_status` is the provider's own word for the
    refund's state ("requires_action"), for people to read; decisions use
    `outcome.status`.
    """

    event_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime | None = None
    provider_refund_id: str | None = None
    refund_public_id: str | None = None
    outcome: ProviderOutcome | None = None
    amount_minor: int | None = None
    currency: str | None = None
    provider_status: str = ""
    # The provider's id of a payment whose authorization was canceled (the hold released): set by
    # an event about a payment, not a refund (Stripe's `payment_intent.canceled`); `outcome` is None.
    voided_payment_id: str | None = None

    @property
    def is_refund_event(self) -> bool:
        return self.outcome is not None


# What the webhook inbox keeps of an event (the columns of refunds.models.WebhookEvent).
# A provider's parser refuses an event whose fields do not fit, instead of the
# insert failing in the database (a 500, retried by the provider for days).
EVENT_ID_MAX_LENGTH = 100
EVENT_TYPE_MAX_LENGTH = 60
PROVIDER_REFUND_ID_MAX_LENGTH = 100


class ReportRow(NamedTuple):
    """One refund as the provider reports it: the provider side of a reconciliation (SPEC §7).

    A tuple, so a million of them stream into PostgreSQL's COPY as they are.
    `created_unix` is None when a report carries no time (the run's day is
    assumed); `refund_public_id` is our id as the provider echoes it (from the
    metadata we sent), so a refund whose provider id we never learned is still
    recognised. `reversal` marks a row that is not a refund but gives a failed
    refund's money back: it only says that refund failed.
    """

    provider_refund_id: str
    amount_minor: int
    currency: str
    status: OutcomeStatus
    created_unix: int | None
    payment_id: str
    refund_public_id: str
    reversal: bool = False


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


# What a `ProviderUnavailable` says about the provider as a whole (the circuit breaker reads it):
# PROVIDER_WIDE - we could not get an answer from the provider (connection refused or reset, a
#   timeout, its gateway's 502/503/504, our account's 429 or credentials): the next call, whichever
#   refund it is for, would most likely fail alike.
# REQUEST_SPECIFIC - the provider answered, about this request only (a 500 `api_error` for one
#   idempotency key, 409 key in use, 429 `lock_timeout` on one object, 424): it is up, and other
#   refunds go through. That message is retried with backoff; the breaker counts the answer as one.
PROVIDER_WIDE = "provider"
REQUEST_SPECIFIC = "request"
UnavailableScope = Literal["provider", "request"]


class ProviderUnavailable(ProviderError):
    """Transient: the call may or may not have taken effect.

    Retry later with the same idempotency key; never with a new one. `scope`
    says whether the trouble is the provider's as a whole or this request's
    (see PROVIDER_WIDE); a provider that cannot tell leaves it provider-wide.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        raw: dict[str, Any] | None = None,
        scope: UnavailableScope = PROVIDER_WIDE,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, raw=raw)
        if scope not in (PROVIDER_WIDE, REQUEST_SPECIFIC):
            raise ValueError(f"unknown scope {scope!r}")
        self.scope: UnavailableScope = scope


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


class CapabilityMissing(NotImplementedError):
    """Asked a provider for something its capability flags say it cannot do (a bug of the caller)."""


class WebhookRejected(Exception):
    """A webhook request we must not act on: answered 400, nothing stored.

    `reason` is short and stable ("not_an_event", "no_webhooks", …) so
    rejections can be counted by cause; the message is what the 400 answer says.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class WebhookSignatureInvalid(WebhookRejected):
    """The signature does not prove the provider sent this payload, now.

    `reason` is one of "malformed", "no_signature", "timestamp", "mismatch".
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"signature: {reason}", reason=reason)


class ReportFormatError(ValueError):
    """A provider report cannot be read as a whole; a partial reconciliation would lie, so none is made."""


def header_value(headers: Mapping[str, str], name: str) -> str:
    """The value of HTTP header `name`, whatever the case of the mapping's keys ("" when absent)."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), "")
    return value


class Provider(abc.ABC):
    """A payment provider able to refund a captured payment.

    Each payment records the provider that holds it (`Payment.provider`, a
    name of `providers.registry.PROVIDERS`); everything the domain asks a
    provider goes through this contract, so no processor's vocabulary, header
    or status leaks out of its package. Instances are built by
    `providers.registry.get_provider` through `from_settings`.
    """

    name: ClassVar[str]
    # For screens and choices ("Stripe protocol", "Manual payouts").
    label: ClassVar[str]
    supports_partial: ClassVar[bool] = True
    # No API to call: approval opens a payout task, and finance marking it paid completes the refund.
    settles_by_hand: ClassVar[bool] = False
    # `iter_refunds` and `fetch_refund_row` work: reconciliation can read a day from the provider's API.
    lists_refunds: ClassVar[bool] = False
    # `report_rows` and `check_report_header` work: finance can reconcile from an uploaded report.
    reads_reports: ClassVar[bool] = False
    # `verify_webhook` and `parse_event` work: the provider tells us about refunds at /webhooks/payments/<name>.
    sends_webhooks: ClassVar[bool] = False
    # `void_payment` works: an authorized, uncaptured payment can be released (issue 15). Without it a
    # void is refused when it is requested (ERR_INSTRUMENT_NOT_ALLOWED), never found out at delivery.
    supports_void: ClassVar[bool] = False
    # Where the provider's API lives (recorded on reconciliation runs); empty without an API.
    api_base: str = ""

    @classmethod
    def from_settings(cls) -> Provider:
        """An instance configured from Django settings (credentials, timeouts, webhook secrets)."""
        return cls()

    # --- refunds ------------------------------------------------------------

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

    # --- voids (supports_void) --------------------------------------------------

    def void_payment(self, *, payment_id: str, idempotency_key: str) -> ProviderOutcome:
        """Release the hold of an authorized, uncaptured payment; the outcome is final.

        `succeeded` when the hold is released, also when it already was (asking
        again must not fail what is done); `failed` with
        `FailureCode.PAYMENT_ALREADY_CAPTURED` when the payment was captured
        meanwhile. `provider_refund_id` is the provider's id of what it
        canceled (Stripe: the PaymentIntent), for a released hold only. Raises like `execute_refund`:
        `ProviderUnavailable` (retry with the same key) or `ProviderRejected`.
        """
        raise CapabilityMissing(f"{self.name} cannot void payments")

    # --- test mode (the synthetic refund, issue 16) -----------------------------------------------

    def in_test_mode(self) -> bool:
        """True only when this client is configured for the provider's test mode, where no money moves.

        The synthetic refund (operations.synthetic) runs only when this says so; a provider that
        cannot tell, or has no test mode, answers False and is never used for it.
        """
        return False

    def create_test_payment(self, *, amount_minor: int, currency: str, idempotency_key: str) -> str:
        """Make a captured test-mode payment of `amount_minor` at the provider; return its payment id.

        Only in test mode (`in_test_mode`); raises like `execute_refund` (`ProviderUnavailable`,
        `ProviderRejected`), and `ProviderRejected` when the payment did not succeed.
        """
        raise CapabilityMissing(f"{self.name} cannot make test payments")

    # --- listing (lists_refunds) ------------------------------------------------

    def iter_refunds(self, *, created_gte: int, created_lt: int, page_size: int = 100) -> Iterator[ReportRow]:
        """Yield every refund created in [created_gte, created_lt) (unix seconds), one at a time."""
        raise CapabilityMissing(f"{self.name} does not list refunds")

    def fetch_refund_row(self, *, provider_refund_id: str) -> ReportRow:
        """One refund as a `ReportRow` (reconciliation looks up refunds the day's listing missed).

        Raises `ProviderRejected` with code `not_found` when the provider does not know it.
        """
        raise CapabilityMissing(f"{self.name} does not list refunds")

    # --- webhooks (sends_webhooks) -------------------------------------------------

    def verify_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Check that the provider sent exactly these bytes, recently; return the event.

        Verifies the provider's own signature header with its secrets and
        timestamp tolerance. Raises `WebhookSignatureInvalid` when that fails and
        `WebhookRejected` when the payload is not an event of this provider.
        """
        raise WebhookRejected(f"{self.name} sends no webhooks", reason="no_webhooks")

    def parse_event(self, payload: dict[str, Any]) -> ProviderEvent:
        """Read a stored event (already verified when it arrived); raises `WebhookRejected` if it is none."""
        raise WebhookRejected(f"{self.name} sends no webhooks", reason="no_webhooks")

    # --- reports (reads_reports) ----------------------------------------------------

    def check_report_header(self, header: Sequence[str]) -> None:
        """Refuse (`ReportFormatError`) a report whose header row is none of this provider's layouts.

        Lets an upload be refused at once instead of minutes later in the worker.
        """
        raise ReportFormatError(f"{self.label} gives no reports to reconcile from")

    def report_rows(self, lines: Iterable[str]) -> Iterator[ReportRow]:
        """Parse a report (text lines of a CSV file, header first) into rows, one at a time.

        Raises `ReportFormatError` naming the line when any part cannot be read.
        """
        raise ReportFormatError(f"{self.label} gives no reports to reconcile from")
