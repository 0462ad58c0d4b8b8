"""How Stripe's vocabulary maps onto our outcomes (pure translation, no HTTP)."""

from __future__ import annotations

import pytest

from providers.base import (
    FailureCode,
    IdempotencyMismatch,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnavailable,
    ReportRow,
)
from providers.stripe.normalise import error_from_response, normalise_refund, report_row


def _refund(**fields: object) -> dict[str, object]:
    return {"id": "re_1", "object": "refund", "amount": 500, "currency": "eur", **fields}


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("succeeded", "succeeded"),
        ("pending", "pending"),
        ("requires_action", "pending"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("something_new", "pending"),
    ],
)
def test_refund_status_is_normalised(stripe_status: str, ours: str) -> None:
    assert normalise_refund(_refund(status=stripe_status)).status == ours


@pytest.mark.parametrize(
    ("reason", "code", "retryable"),
    [
        ("expired_or_canceled_card", FailureCode.EXPIRED_OR_CANCELED_CARD, False),
        ("lost_or_stolen_card", FailureCode.LOST_OR_STOLEN_CARD, False),
        ("insufficient_funds", FailureCode.INSUFFICIENT_FUNDS, True),
        ("charge_for_pending_refund_disputed", FailureCode.DISPUTED, False),
        ("declined", FailureCode.DECLINED, False),
        ("merchant_request", FailureCode.CANCELED, False),
        ("unknown", FailureCode.UNKNOWN, False),
        (None, FailureCode.UNKNOWN, False),
        ("brand_new_reason", FailureCode.UNKNOWN, False),
    ],
)
def test_failure_reason_is_normalised_with_retryability(reason: str | None, code: str, retryable: bool) -> None:
    outcome = normalise_refund(_refund(status="failed", failure_reason=reason))

    assert (outcome.status, outcome.failure_code, outcome.retryable) == (
        "failed",
        code,
        retryable,
    )


def test_canceled_refund_fails_with_canceled_code() -> None:
    outcome = normalise_refund(_refund(status="canceled"))

    assert (outcome.failure_code, outcome.retryable) == (FailureCode.CANCELED, False)


def test_outcome_keeps_the_raw_object_and_id() -> None:
    obj = _refund(status="succeeded")

    outcome = normalise_refund(obj)

    assert outcome.provider_refund_id == "re_1"
    assert outcome.raw is obj
    assert outcome.is_final


def test_only_failed_outcomes_carry_failure_codes() -> None:
    with pytest.raises(ValueError):
        ProviderOutcome(status="succeeded", provider_refund_id="re_1", failure_code="x")
    with pytest.raises(ValueError):
        ProviderOutcome(status="refunded", provider_refund_id="re_1")  # type: ignore[arg-type]


def test_a_refund_object_is_one_report_row_for_reconciliation() -> None:
    obj = _refund(status="requires_action", payment_intent="pi_1", created=10, metadata={"refund_id": "rf_1"})

    assert report_row(obj) == ReportRow(
        provider_refund_id="re_1",
        amount_minor=500,
        currency="EUR",
        status="pending",
        created_unix=10,
        payment_id="pi_1",
        refund_public_id="rf_1",
        reversal=False,
    )


def test_a_report_row_without_metadata_or_time_leaves_them_empty() -> None:
    row = report_row(_refund(status="canceled"))

    assert (row.status, row.created_unix, row.payment_id, row.refund_public_id) == ("failed", None, "", "")


def _err(type_: str, code: str | None = None) -> dict[str, object]:
    return {"error": {"type": type_, "code": code, "message": "m"}}


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 409, 424])
def test_transient_http_answers_mean_retry_with_the_same_key(status: int) -> None:
    exc = error_from_response(status, _err("api_error"))

    assert type(exc) is ProviderUnavailable
    assert exc.http_status == status


@pytest.mark.parametrize(
    ("status", "type_", "code", "scope"),
    [
        # Nothing behind the provider's edge answered, or our account's limits and credentials: everyone's calls.
        (502, "api_error", None, "provider"),
        (503, "api_error", None, "provider"),
        (504, "api_error", None, "provider"),
        (429, "rate_limit_error", "rate_limit", "provider"),
        (401, "invalid_request_error", None, "provider"),
        (403, "invalid_request_error", None, "provider"),
        # The provider answered, about this one request.
        (500, "api_error", None, "request"),
        (409, "idempotency_error", "idempotency_key_in_use", "request"),
        (429, "invalid_request_error", "lock_timeout", "request"),
        (424, "api_error", None, "request"),
    ],
)
def test_unavailable_answers_say_whether_the_whole_provider_is_down(
    status: int, type_: str, code: str | None, scope: str
) -> None:
    exc = error_from_response(status, _err(type_, code))

    assert isinstance(exc, ProviderUnavailable)
    assert exc.scope == scope


@pytest.mark.parametrize("status", [401, 403])
def test_credential_problems_are_not_a_final_refund_failure(status: int) -> None:
    exc = error_from_response(status, _err("invalid_request_error"))

    assert isinstance(exc, ProviderUnavailable)
    assert exc.code == "authentication"


def test_idempotency_error_is_a_final_mismatch() -> None:
    exc = error_from_response(400, _err("idempotency_error"))

    assert isinstance(exc, IdempotencyMismatch)
    assert isinstance(exc, ProviderRejected)
    assert exc.code == FailureCode.IDEMPOTENCY_MISMATCH


@pytest.mark.parametrize(
    ("status", "type_", "code", "ours"),
    [
        (400, "invalid_request_error", "charge_already_refunded", "charge_already_refunded"),
        (400, "invalid_request_error", "amount_too_large", "amount_too_large"),
        (400, "invalid_request_error", "charge_disputed", "disputed"),
        (404, "invalid_request_error", "resource_missing", "not_found"),
        (402, "card_error", "card_declined", "declined"),
        (402, "card_error", None, "declined"),
        (400, "invalid_request_error", "parameter_missing", "invalid_request"),
        (404, "invalid_request_error", None, "not_found"),
        (418, "invalid_request_error", None, "unknown"),
    ],
)
def test_final_rejections_carry_a_normalised_code(status: int, type_: str, code: str | None, ours: str) -> None:
    exc = error_from_response(status, _err(type_, code))

    assert type(exc) is ProviderRejected
    assert (exc.code, exc.http_status) == (ours, status)
