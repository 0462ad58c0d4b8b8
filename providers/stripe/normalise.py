"""Stripe's vocabulary in our words: the one status map, failure reasons, error answers (SPEC §6).

Every Stripe word that decides something on our side is translated here and
nowhere else - by the client (answers), the webhook parser (events) and the
report parser (the refund list layout's status column) alike.
"""

from __future__ import annotations

import logging
from typing import Any

from providers.base import (
    PROVIDER_WIDE,
    REQUEST_SPECIFIC,
    RETRYABLE_FAILURE_CODES,
    FailureCode,
    IdempotencyMismatch,
    OutcomeStatus,
    ProviderError,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnavailable,
    ReportRow,
    UnavailableScope,
)

logger = logging.getLogger(__name__)

# Refund.status -> our outcome.
STATUS_MAP: dict[str, OutcomeStatus] = {
    "succeeded": "succeeded",
    "pending": "pending",
    # The customer must act (e.g. give bank details); money has not moved yet.
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}

# Refund.failure_reason -> our code.
FAILURE_REASON_MAP: dict[str, FailureCode] = {
    "expired_or_canceled_card": FailureCode.EXPIRED_OR_CANCELED_CARD,
    "lost_or_stolen_card": FailureCode.LOST_OR_STOLEN_CARD,
    "insufficient_funds": FailureCode.INSUFFICIENT_FUNDS,
    "charge_for_pending_refund_disputed": FailureCode.DISPUTED,
    "declined": FailureCode.DECLINED,
    "merchant_request": FailureCode.CANCELED,
    "unknown": FailureCode.UNKNOWN,
}

# error.code of a 4xx answer -> our code.
ERROR_CODE_MAP: dict[str, FailureCode] = {
    "charge_already_refunded": FailureCode.CHARGE_ALREADY_REFUNDED,
    "amount_too_large": FailureCode.AMOUNT_TOO_LARGE,
    "charge_disputed": FailureCode.DISPUTED,
    "balance_insufficient": FailureCode.INSUFFICIENT_FUNDS,
    "card_declined": FailureCode.DECLINED,
    "resource_missing": FailureCode.NOT_FOUND,
}


def outcome_status(stripe_status: str) -> OutcomeStatus:
    """Our status for a Stripe refund status; an unknown one is pending (it never moves money on our side)."""
    status = STATUS_MAP.get(stripe_status)
    if status is None:
        logger.warning("provider.stripe.unknown_status", extra={"status": stripe_status})
        return "pending"
    return status


def normalise_refund(obj: dict[str, Any]) -> ProviderOutcome:
    """Translate a Stripe refund object into a `ProviderOutcome`.

    An unknown status is read as pending: it never moves money on our side,
    and a later webhook or fetch tells the truth.
    """
    stripe_status = str(obj.get("status") or "")
    status = outcome_status(stripe_status)
    failure_code: str | None = None
    if status == "failed":
        if stripe_status == "canceled":
            failure_code = FailureCode.CANCELED
        else:
            reason = str(obj.get("failure_reason") or "unknown")
            failure_code = FAILURE_REASON_MAP.get(reason, FailureCode.UNKNOWN)
    return ProviderOutcome(
        status=status,
        provider_refund_id=obj.get("id"),
        failure_code=failure_code,
        retryable=failure_code in RETRYABLE_FAILURE_CODES,
        raw=obj,
    )


# --- voids: a PaymentIntent canceled (issue 15) -------------------------------------------------------

# The one error code of POST /v1/payment_intents/{id}/cancel that still tells the intent's state:
# the intent is not cancelable (canceled already, or captured). Stripe puts the intent in the error.
UNEXPECTED_STATE = "payment_intent_unexpected_state"
# PaymentIntent.status values from which a hold can no longer be released: the money was (or is
# being) taken, and only a refund gives it back.
CAPTURED_INTENT_STATUSES = frozenset({"succeeded", "processing"})


def normalise_void(intent: dict[str, Any]) -> ProviderOutcome:
    """A PaymentIntent, as the answer to our void: released (`canceled`) or why it cannot be.

    Final either way (`Provider.void_payment`): a canceled intent is never
    uncanceled, a captured one never uncaptured. An intent in any other
    state (never authorized) cannot be voided either. `provider_refund_id` is
    the intent's id, for a released hold only.
    """
    status = str(intent.get("status") or "")
    intent_id = str(intent.get("id") or "") or None
    if status == "canceled":
        return ProviderOutcome(status="succeeded", provider_refund_id=intent_id, raw=intent)
    code = FailureCode.PAYMENT_ALREADY_CAPTURED if status in CAPTURED_INTENT_STATUSES else FailureCode.INVALID_REQUEST
    # No id for a void that did not happen: the intent's id names the one void of the payment that
    # succeeds (provider refund ids are unique), which a later void request may still be.
    return ProviderOutcome(status="failed", provider_refund_id=None, failure_code=code, raw=intent)


def intent_of_unexpected_state(error: ProviderError) -> dict[str, Any] | None:
    """The PaymentIntent a `payment_intent_unexpected_state` refusal carries ({} when it carries none), else None."""
    if not isinstance(error, ProviderRejected):
        return None
    err = error.raw.get("error") if isinstance(error.raw.get("error"), dict) else {}
    if err.get("code") != UNEXPECTED_STATE:
        return None
    intent = err.get("payment_intent")
    return intent if isinstance(intent, dict) else {}


def report_row(obj: dict[str, Any]) -> ReportRow:
    """A Stripe refund object (listed or fetched) as the provider side of a reconciliation."""
    metadata = obj.get("metadata") or {}
    created = obj.get("created")
    return ReportRow(
        provider_refund_id=str(obj["id"]),
        amount_minor=int(obj["amount"]),
        currency=str(obj.get("currency") or "").upper(),
        status=outcome_status(str(obj.get("status") or "")),
        created_unix=int(created) if created is not None else None,
        payment_id=str(obj.get("payment_intent") or ""),
        refund_public_id=str(metadata.get("refund_id") or ""),
    )


# Answers that speak for the provider as a whole (its edge or load balancer: nothing behind it answered).
GATEWAY_STATUSES = frozenset({502, 503, 504})


def unavailable_scope(status: int | None, err_code: object = None) -> UnavailableScope:
    """Is an HTTP answer of `status` about the provider as a whole, or about this one request?

    502/503/504 come from the provider's edge when nothing behind it answers,
    and a 429 is our account's rate limit (every call of ours shares it):
    provider-wide, as are 401/403 (our credentials fail every call alike). A
    429 `lock_timeout` is one object being busy, a 409 one idempotency key in
    use, a 424 one request's downstream, and a 500 `api_error` one request
    that broke while the API itself answered: request-specific
    (providers/base.py).
    """
    if status in GATEWAY_STATUSES or status in (401, 403) or (status == 429 and err_code != "lock_timeout"):
        return PROVIDER_WIDE
    return REQUEST_SPECIFIC


def error_from_response(status: int, body: dict[str, Any]) -> ProviderError:
    """Classify a non-2xx answer as transient (`ProviderUnavailable`) or final.

    409 (idempotency key in use / lock timeout), 429 and 5xx mean "try again
    with the same key". 401/403 are also treated as unavailable: our
    credentials are wrong, not the refund, and it must succeed once they are
    fixed rather than be failed for good.
    """
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    err_type, err_code = err.get("type"), err.get("code")
    message = str(err.get("message") or f"provider answered HTTP {status}")
    if status >= 500 or status in (409, 424, 429):
        scope = unavailable_scope(status, err_code)
        return ProviderUnavailable(message, code=err_code or err_type, http_status=status, raw=body, scope=scope)
    if status in (401, 403):
        return ProviderUnavailable(message, code="authentication", http_status=status, raw=body)
    if err_type == "idempotency_error":
        return IdempotencyMismatch(message, code=FailureCode.IDEMPOTENCY_MISMATCH, http_status=status, raw=body)
    code = ERROR_CODE_MAP.get(str(err_code))
    if code is None:
        if err_type == "card_error":
            code = FailureCode.DECLINED
        elif status == 404:
            code = FailureCode.NOT_FOUND
        elif status == 400:
            code = FailureCode.INVALID_REQUEST
        else:
            code = FailureCode.UNKNOWN
    return ProviderRejected(message, code=code, http_status=status, raw=body)
