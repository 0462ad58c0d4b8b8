"""A client for the Stripe refunds wire protocol (SPEC §6).

It speaks exactly what Stripe's v1 API speaks - form-encoded POST /v1/refunds
with an `Idempotency-Key` header, GET /v1/refunds/{id}, and the cursor-paginated
GET /v1/refunds list - so the simulator and the real API are interchangeable by
configuration (`api_base`, `api_key`).

Deliberately no automatic retries here: a retry is a decision of the outbox
task (backoff, circuit breaker, dead letter), and it must reuse the same
idempotency key, which only the caller knows to be stable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests

from providers.base import (
    RETRYABLE_FAILURE_CODES,
    FailureCode,
    IdempotencyMismatch,
    OutcomeStatus,
    Provider,
    ProviderError,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnavailable,
)

logger = logging.getLogger(__name__)

# The API version we read objects as. From 2024-10-28.acacia Stripe sends
# refund.created / refund.updated / refund.failed for every refund type.
DEFAULT_STRIPE_VERSION = "2024-10-28.acacia"

_STATUS_MAP: dict[str, OutcomeStatus] = {
    "succeeded": "succeeded",
    "pending": "pending",
    # The customer must act (e.g. give bank details); money has not moved yet.
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}

# Refund.failure_reason -> our code.
_FAILURE_REASON_MAP: dict[str, FailureCode] = {
    "expired_or_canceled_card": FailureCode.EXPIRED_OR_CANCELED_CARD,
    "lost_or_stolen_card": FailureCode.LOST_OR_STOLEN_CARD,
    "insufficient_funds": FailureCode.INSUFFICIENT_FUNDS,
    "charge_for_pending_refund_disputed": FailureCode.DISPUTED,
    "declined": FailureCode.DECLINED,
    "merchant_request": FailureCode.CANCELED,
    "unknown": FailureCode.UNKNOWN,
}

# error.code of a 4xx answer -> our code.
_ERROR_CODE_MAP: dict[str, FailureCode] = {
    "charge_already_refunded": FailureCode.CHARGE_ALREADY_REFUNDED,
    "amount_too_large": FailureCode.AMOUNT_TOO_LARGE,
    "charge_disputed": FailureCode.DISPUTED,
    "balance_insufficient": FailureCode.INSUFFICIENT_FUNDS,
    "card_declined": FailureCode.DECLINED,
    "resource_missing": FailureCode.NOT_FOUND,
}


def normalise_refund(obj: dict[str, Any]) -> ProviderOutcome:
    """Translate a Stripe refund object into a `ProviderOutcome`.

    An unknown status is read as pending: it never moves money on our side,
    and a later webhook or fetch tells the truth.
    """
    stripe_status = str(obj.get("status") or "")
    status = _STATUS_MAP.get(stripe_status, "pending")
    if stripe_status not in _STATUS_MAP:
        logger.warning("provider.stripe.unknown_status", extra={"status": stripe_status})
    failure_code: str | None = None
    if status == "failed":
        if stripe_status == "canceled":
            failure_code = FailureCode.CANCELED
        else:
            reason = str(obj.get("failure_reason") or "unknown")
            failure_code = _FAILURE_REASON_MAP.get(reason, FailureCode.UNKNOWN)
    return ProviderOutcome(
        status=status,
        provider_refund_id=obj.get("id"),
        failure_code=failure_code,
        retryable=failure_code in RETRYABLE_FAILURE_CODES,
        raw=obj,
    )


def refund_record(obj: dict[str, Any]) -> dict[str, Any]:
    """The reconciliation view of a Stripe refund object (see `iter_refunds`)."""
    outcome = normalise_refund(obj)
    return {
        "id": obj.get("id"),
        "amount": obj.get("amount"),
        "currency": str(obj.get("currency") or "").upper(),
        "status": outcome.status,
        "failure_code": outcome.failure_code,
        "payment_intent": obj.get("payment_intent"),
        "created": obj.get("created"),
        "metadata": dict(obj.get("metadata") or {}),
    }


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
        return ProviderUnavailable(message, code=err_code or err_type, http_status=status, raw=body)
    if status in (401, 403):
        return ProviderUnavailable(message, code="authentication", http_status=status, raw=body)
    if err_type == "idempotency_error":
        return IdempotencyMismatch(message, code=FailureCode.IDEMPOTENCY_MISMATCH, http_status=status, raw=body)
    code = _ERROR_CODE_MAP.get(str(err_code))
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


class StripeProtocolProvider(Provider):
    """Refunds through any server that speaks Stripe's v1 refunds API.

    One instance holds one `requests.Session` (connection reuse); use one
    instance per thread, as a Session is not guaranteed thread-safe.
    """

    name = "stripe"
    label = "Stripe protocol"
    supports_partial = True

    def __init__(
        self,
        api_base: str,
        api_key: str,
        timeout: float,
        *,
        connect_timeout: float | None = None,
        api_version: str = DEFAULT_STRIPE_VERSION,
        session: requests.Session | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        self.api_base = api_base.rstrip("/")
        self.timeout = (connect_timeout or timeout, timeout)
        self.session = session or requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "Stripe-Version": api_version,
                "User-Agent": "refund-desk/1 (stripe-protocol)",
                "Accept": "application/json",
            }
        )

    def execute_refund(
        self,
        *,
        payment_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderOutcome:
        """POST /v1/refunds for a payment intent, idempotently.

        Stripe takes the currency from the payment, so it is not a parameter;
        we put it in metadata for the record (and the simulator, which knows no
        payments, reads it from there). Metadata is part of the idempotency
        fingerprint: it must be as stable as the key.
        """
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
            raise ValueError("amount_minor must be a positive integer")
        if not idempotency_key:
            raise ValueError("an idempotency key is required")
        form: dict[str, str] = {
            "payment_intent": payment_id,
            "amount": str(amount_minor),
        }
        merged = {"currency": currency.lower(), **metadata}
        for key, value in merged.items():
            form[f"metadata[{key}]"] = str(value)
        obj = self._request("POST", "/v1/refunds", data=form, idempotency_key=idempotency_key)
        returned = str(obj.get("currency") or "").lower()
        if returned and returned != currency.lower():
            logger.error(
                "provider.stripe.currency_mismatch",
                extra={"refund": obj.get("id"), "expected": currency, "got": returned},
            )
        return normalise_refund(obj)

    def fetch_refund(self, *, provider_refund_id: str) -> ProviderOutcome:
        """GET /v1/refunds/{id}."""
        path = "/v1/refunds/" + quote(provider_refund_id, safe="")
        return normalise_refund(self._request("GET", path))

    def iter_refunds(self, *, created_gte: int, created_lt: int, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Walk GET /v1/refunds newest first, following `has_more`/`starting_after`."""
        if not 1 <= page_size <= 100:
            raise ValueError("page_size must be within 1..100")
        params: dict[str, str | int] = {
            "created[gte]": int(created_gte),
            "created[lt]": int(created_lt),
            "limit": page_size,
        }
        while True:
            page = self._request("GET", "/v1/refunds", params=params)
            data = page.get("data") or []
            for obj in data:
                yield refund_record(obj)
            if not page.get("has_more") or not data:
                return
            params["starting_after"] = data[-1]["id"]

    def _request(
        self,
        method: str,
        path: str,
        *,
        data: dict[str, str] | None = None,
        params: dict[str, str | int] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """One HTTP exchange; every failure mode mapped onto our exceptions."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            resp = self.session.request(
                method,
                self.api_base + path,
                data=data,
                params=params,
                headers=headers,
                timeout=self.timeout,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            # The request may have reached the provider: only the same key is safe.
            raise ProviderUnavailable(f"{type(exc).__name__}: {exc}", code="network") from exc
        except requests.RequestException as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}", code="client") from exc
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            # A 2xx we cannot read still may have created the refund.
            raise ProviderUnavailable(
                f"unreadable answer (HTTP {resp.status_code})",
                code="bad_response",
                http_status=resp.status_code,
            )
        if resp.status_code >= 300:
            raise error_from_response(resp.status_code, body)
        return body
