"""Stripe-style webhook signatures: `Stripe-Signature: t=<ts>,v1=<hex>`.

The signed text is `f"{t}.{payload}"` with HMAC-SHA256 keyed by the endpoint
secret. The timestamp is inside the MAC so a captured request cannot be replayed
later than the tolerance allows; several `v1` entries may be present while a
secret is being rotated (the sender signs with the old and the new secret).
Shared by the simulator (signing) and the webhook inbox (verifying).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The signature header does not prove the payload came from the provider.

    `reason` is one of "malformed", "no_signature", "timestamp", "mismatch",
    so the inbox can count failures by cause without parsing messages.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _secrets(secret: str | Sequence[str]) -> list[str]:
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets or not all(secrets):
        raise ValueError("a non-empty webhook secret is required")
    return secrets


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of `"{timestamp}.{payload}"`, as Stripe computes it."""
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign_payload(payload: bytes, secret: str | Sequence[str], timestamp: int | None = None) -> str:
    """Build the `Stripe-Signature` header value for `payload`.

    Give several secrets to emit one `v1` entry per secret (rotation).
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    parts = [f"t={ts}"]
    parts += [f"{SCHEME}={compute_signature(payload, s, ts)}" for s in _secrets(secret)]
    return ",".join(parts)


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in (header or "").split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError("signature header item without '='", reason="malformed")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("timestamp is not an integer", reason="malformed") from None
        elif key == SCHEME:
            signatures.append(value)
        # Other schemes (Stripe's test-only v0) are ignored on purpose.
    if timestamp is None:
        raise SignatureError("no timestamp in signature header", reason="malformed")
    if not signatures:
        raise SignatureError("no v1 signature in header", reason="no_signature")
    return timestamp, signatures


def verify_signature(
    payload: bytes,
    header: str,
    secret: str | Sequence[str],
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: int | None = None,
) -> int:
    """Check `header` against the raw request body and return its timestamp.

    Verify the exact bytes received (before any JSON parsing) or the MAC will
    not match. `secret` may be several secrets (ours during a rotation); any
    v1 entry matching any of them is accepted. Comparison is constant-time.
    Raises `SignatureError` otherwise.
    """
    timestamp, signatures = _parse_header(header)
    current = int(time.time()) if now is None else int(now)
    if abs(current - timestamp) > tolerance_seconds:
        raise SignatureError("timestamp outside the tolerance", reason="timestamp")
    for candidate_secret in _secrets(secret):
        expected = compute_signature(payload, candidate_secret, timestamp).encode()
        # Bytes, not str: compare_digest refuses non-ASCII str from a hostile header.
        if any(hmac.compare_digest(expected, sig.encode("utf-8", "replace")) for sig in signatures):
            return timestamp
    raise SignatureError("no signature matches the payload", reason="mismatch")
