"""Payment providers: one small base contract, the Stripe-protocol client, the
webhook signature scheme and a stand-alone simulator (SPEC §6).

`StripeProtocolProvider` is imported lazily so the simulator process, which
only needs the signature helpers, does not pay for `requests`.
"""

from typing import Any

from providers.base import (
    RETRYABLE_FAILURE_CODES,
    FailureCode,
    IdempotencyMismatch,
    Provider,
    ProviderError,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.stripe.signature import SignatureError, sign_payload, verify_signature

__all__ = [
    "RETRYABLE_FAILURE_CODES",
    "FailureCode",
    "IdempotencyMismatch",
    "Provider",
    "ProviderError",
    "ProviderOutcome",
    "ProviderRejected",
    "ProviderUnavailable",
    "SignatureError",
    "StripeProtocolProvider",
    "sign_payload",
    "verify_signature",
]


def __getattr__(name: str) -> Any:
    if name == "StripeProtocolProvider":
        from providers.stripe.client import StripeProtocolProvider

        return StripeProtocolProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
