"""A client for the Stripe refunds wire protocol (SPEC §6).

It speaks exactly what Stripe's v1 API speaks - form-encoded POST /v1/refunds
with an `Idempotency-Key` header, GET /v1/refunds/{id}, the cursor-paginated
GET /v1/refunds list, and POST /v1/payment_intents/{id}/cancel for voids - so
the simulator and the real API are interchangeable by configuration
(`api_base`, `api_key`). Webhooks and reports are read by the package's
`webhooks` and `reports` modules; this class is their `Provider` face.

Deliberately no automatic retries here: a retry is a decision of the outbox
task (backoff, circuit breaker, dead letter), and it must reuse the same
idempotency key, which only the caller knows to be stable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from django.conf import settings

from providers.base import (
    Provider,
    ProviderError,
    ProviderEvent,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnavailable,
    ReportRow,
)
from providers.metrics import timed
from providers.stripe import reports, webhooks
from providers.stripe.normalise import (
    error_from_response,
    intent_of_unexpected_state,
    normalise_refund,
    normalise_void,
    report_row,
    unavailable_scope,
)
from providers.stripe.signature import DEFAULT_TOLERANCE_SECONDS

logger = logging.getLogger(__name__)

# The API version we read objects as. From 2024-10-28.acacia Stripe sends
# refund.created / refund.updated / refund.failed for every refund type.
DEFAULT_STRIPE_VERSION = "2024-10-28.acacia"
# Secret and restricted keys of Stripe's test mode; a live key (sk_live_, rk_live_) is never one.
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")
# Stripe's test card that always succeeds, as a ready-made PaymentMethod (docs.stripe.com/testing).
TEST_PAYMENT_METHOD = "pm_card_visa"


class StripeProtocolProvider(Provider):
    """Refunds through any server that speaks Stripe's v1 refunds API.

    One instance holds one `requests.Session` (connection reuse); use one
    instance per thread, as a Session is not guaranteed thread-safe.
    """

    name: ClassVar[str] = "stripe"
    label: ClassVar[str] = "Stripe protocol"
    supports_partial: ClassVar[bool] = True
    lists_refunds: ClassVar[bool] = True
    reads_reports: ClassVar[bool] = True
    sends_webhooks: ClassVar[bool] = True
    supports_void: ClassVar[bool] = True

    def __init__(
        self,
        api_base: str,
        api_key: str,
        timeout: float,
        *,
        connect_timeout: float | None = None,
        api_version: str = DEFAULT_STRIPE_VERSION,
        session: requests.Session | None = None,
        webhook_secrets: Sequence[str] = (),
        webhook_tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    ) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        # Stripe's keys say their mode: sk_test_/rk_test_ act on the test account only, where
        # nothing is charged or paid out (the simulator's keys follow the same convention).
        self.test_mode = api_key.startswith(TEST_KEY_PREFIXES)
        self.api_base = api_base.rstrip("/")
        self.timeout = (connect_timeout or timeout, timeout)
        self.webhook_secrets = tuple(webhook_secrets)
        self.webhook_tolerance_seconds = webhook_tolerance_seconds
        self.session = session or requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "Stripe-Version": api_version,
                "User-Agent": "refund-desk/1 (stripe-protocol)",
                "Accept": "application/json",
            }
        )

    @classmethod
    def from_settings(cls) -> StripeProtocolProvider:
        """The client the settings describe (the registry builds it once per thread and configuration).

        PROVIDER_API_BASE, PROVIDER_API_KEY and PROVIDER_TIMEOUT_SECONDS for the
        API; PROVIDER_WEBHOOK_SECRET (comma-separated, so a secret can be rotated
        without dropping events) and WEBHOOK_TOLERANCE_SECONDS for webhooks.
        """
        return cls(
            settings.PROVIDER_API_BASE,
            settings.PROVIDER_API_KEY,
            settings.PROVIDER_TIMEOUT_SECONDS,
            connect_timeout=min(3.0, settings.PROVIDER_TIMEOUT_SECONDS),
            webhook_secrets=[s.strip() for s in settings.PROVIDER_WEBHOOK_SECRET.split(",") if s.strip()],
            webhook_tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS,
        )

    @timed("execute_refund")
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

    @timed("fetch_refund")
    def fetch_refund(self, *, provider_refund_id: str) -> ProviderOutcome:
        """GET /v1/refunds/{id}."""
        return normalise_refund(self._request("GET", self._refund_path(provider_refund_id)))

    @timed("void_payment")
    def void_payment(self, *, payment_id: str, idempotency_key: str) -> ProviderOutcome:
        """POST /v1/payment_intents/{id}/cancel, idempotently: release an authorization's hold.

        Stripe refuses to cancel an intent that is not cancelable with
        `payment_intent_unexpected_state` and the intent in the error: one
        canceled already (by an earlier attempt whose answer we lost without
        the same key, or by the merchant) is the void done, one captured is a
        final failure (`payment_already_captured`). When the error carries no
        intent, it is read (GET) to tell which. The reason sent is constant, so
        the idempotency fingerprint is as stable as the key.
        """
        if not idempotency_key:
            raise ValueError("an idempotency key is required")
        path = self._intent_path(payment_id)
        try:
            intent = self._request(
                "POST",
                path + "/cancel",
                data={"cancellation_reason": "requested_by_customer"},
                idempotency_key=idempotency_key,
            )
        except ProviderRejected as error:
            intent = intent_of_unexpected_state(error)
            if intent is None:
                raise
            if not intent.get("status"):
                intent = self._request("GET", path)
        return normalise_void(intent)

    def in_test_mode(self) -> bool:
        return self.test_mode

    def create_test_payment(self, *, amount_minor: int, currency: str, idempotency_key: str) -> str:
        """POST /v1/payment_intents confirmed with the test card: a captured test payment, idempotently.

        Refused with a live key before any request (ValueError): this makes a charge.
        """
        if not self.test_mode:
            raise ValueError("test payments are made with a test-mode key only (sk_test_…)")
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
            raise ValueError("amount_minor must be a positive integer")
        form = {
            "amount": str(amount_minor),
            "currency": currency.lower(),
            "confirm": "true",
            "payment_method": TEST_PAYMENT_METHOD,
            "payment_method_types[]": "card",
            "metadata[purpose]": "synthetic",
        }
        intent = self._request("POST", "/v1/payment_intents", data=form, idempotency_key=idempotency_key)
        if intent.get("status") != "succeeded" or not intent.get("id"):
            raise ProviderRejected(f"test payment not captured: status {intent.get('status')!r}", code="test_payment")
        return str(intent["id"])

    def iter_refunds(self, *, created_gte: int, created_lt: int, page_size: int = 100) -> Iterator[ReportRow]:
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
                yield report_row(obj)
            if not page.get("has_more") or not data:
                return
            params["starting_after"] = data[-1]["id"]

    @timed("fetch_refund_row")
    def fetch_refund_row(self, *, provider_refund_id: str) -> ReportRow:
        """GET /v1/refunds/{id}, as the provider side of a reconciliation."""
        return report_row(self._request("GET", self._refund_path(provider_refund_id)))

    def verify_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Check the `Stripe-Signature` header with our endpoint secrets and tolerance; read the event."""
        return webhooks.verify_webhook(
            payload=payload,
            headers=headers,
            secrets=self.webhook_secrets,
            tolerance_seconds=self.webhook_tolerance_seconds,
        )

    def parse_event(self, payload: dict[str, Any]) -> ProviderEvent:
        """Read a stored Stripe event (verified when it arrived)."""
        return webhooks.parse_event(payload)

    def check_report_header(self, header: Sequence[str]) -> None:
        """Accept the header of a Stripe balance report or a refund list (docs/reconciliation.md)."""
        reports.detect_layout(header)

    def report_rows(self, lines: Iterable[str]) -> Iterator[ReportRow]:
        """Parse a Stripe balance report or a refund list, streaming."""
        return reports.report_rows(lines)

    @staticmethod
    def _refund_path(provider_refund_id: str) -> str:
        return "/v1/refunds/" + quote(provider_refund_id, safe="")

    @staticmethod
    def _intent_path(payment_id: str) -> str:
        return "/v1/payment_intents/" + quote(payment_id, safe="")

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
            # The request may have reached the provider: only the same key is safe. No answer at all
            # (refused, reset, connect or read timeout) is provider-wide: one slow request cannot be told
            # from a hung provider here, so the breaker judges by the rate of them (providers/breaker.py).
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
                # A proxy's HTML 502 speaks for the whole provider; a 200 we cannot read, for this request.
                scope=unavailable_scope(resp.status_code),
            )
        if resp.status_code >= 300:
            raise error_from_response(resp.status_code, body)
        return body
