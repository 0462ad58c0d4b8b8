"""Webhook signatures: what the inbox must accept and refuse (SPEC §6)."""

from __future__ import annotations

import pytest

from providers.stripe.signature import (
    SignatureError,
    compute_signature,
    sign_payload,
    verify_signature,
)

PAYLOAD = b'{"id": "evt_1", "type": "refund.updated"}'
SECRET = "whsec_current"
OLD_SECRET = "whsec_previous"
NOW = 1_700_000_000


def test_signed_payload_verifies_and_returns_its_timestamp() -> None:
    header = sign_payload(PAYLOAD, SECRET, timestamp=NOW)

    assert header.startswith(f"t={NOW},v1=")
    assert verify_signature(PAYLOAD, header, SECRET, now=NOW + 10) == NOW


def test_signature_is_stripe_hmac_of_timestamp_dot_payload() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + PAYLOAD, hashlib.sha256)

    assert compute_signature(PAYLOAD, SECRET, NOW) == expected.hexdigest()


def test_tampered_payload_is_refused() -> None:
    header = sign_payload(PAYLOAD, SECRET, timestamp=NOW)

    with pytest.raises(SignatureError) as err:
        verify_signature(PAYLOAD.replace(b"updated", b"created"), header, SECRET, now=NOW)
    assert err.value.reason == "mismatch"


def test_tampered_timestamp_is_refused() -> None:
    header = sign_payload(PAYLOAD, SECRET, timestamp=NOW)
    moved = header.replace(f"t={NOW}", f"t={NOW + 1}")

    with pytest.raises(SignatureError) as err:
        verify_signature(PAYLOAD, moved, SECRET, now=NOW)
    assert err.value.reason == "mismatch"


def test_wrong_secret_is_refused() -> None:
    header = sign_payload(PAYLOAD, "whsec_someone_else", timestamp=NOW)

    with pytest.raises(SignatureError) as err:
        verify_signature(PAYLOAD, header, SECRET, now=NOW)
    assert err.value.reason == "mismatch"


def test_timestamp_older_than_tolerance_is_refused_even_if_signature_matches() -> None:
    header = sign_payload(PAYLOAD, SECRET, timestamp=NOW)

    assert verify_signature(PAYLOAD, header, SECRET, tolerance_seconds=300, now=NOW + 300)
    with pytest.raises(SignatureError) as err:
        verify_signature(PAYLOAD, header, SECRET, tolerance_seconds=300, now=NOW + 301)
    assert err.value.reason == "timestamp"


def test_timestamp_too_far_in_the_future_is_refused() -> None:
    header = sign_payload(PAYLOAD, SECRET, timestamp=NOW + 3600)

    with pytest.raises(SignatureError) as err:
        verify_signature(PAYLOAD, header, SECRET, now=NOW)
    assert err.value.reason == "timestamp"


def test_header_signed_with_old_and_new_secret_verifies_with_either() -> None:
    header = sign_payload(PAYLOAD, [OLD_SECRET, SECRET], timestamp=NOW)

    assert header.count("v1=") == 2
    assert verify_signature(PAYLOAD, header, SECRET, now=NOW) == NOW
    assert verify_signature(PAYLOAD, header, OLD_SECRET, now=NOW) == NOW


def test_receiver_holding_both_secrets_accepts_a_header_from_the_old_one() -> None:
    header = sign_payload(PAYLOAD, OLD_SECRET, timestamp=NOW)

    assert verify_signature(PAYLOAD, header, [SECRET, OLD_SECRET], now=NOW) == NOW
    with pytest.raises(SignatureError):
        verify_signature(PAYLOAD, header, [SECRET], now=NOW)


def test_unknown_schemes_are_ignored_but_do_not_count_as_a_signature() -> None:
    good = compute_signature(PAYLOAD, SECRET, NOW)

    assert verify_signature(PAYLOAD, f"t={NOW},v0=abc,v1={good}", SECRET, now=NOW)
    with pytest.raises(SignatureError) as err:
        verify_signature(PAYLOAD, f"t={NOW},v0={good}", SECRET, now=NOW)
    assert err.value.reason == "no_signature"


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "v1=abc", "t=soon,v1=abc", f"t={NOW},v1"],
    ids=["empty", "no-equals", "no-timestamp", "non-integer-timestamp", "bare-v1"],
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(SignatureError) as err:
        verify_signature(PAYLOAD, header, SECRET, now=NOW)
    assert err.value.reason == "malformed"


def test_non_ascii_signature_is_refused_not_crashing() -> None:
    with pytest.raises(SignatureError) as err:
        verify_signature(PAYLOAD, f"t={NOW},v1=\u00e9\u00e9", SECRET, now=NOW)
    assert err.value.reason == "mismatch"


def test_empty_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        sign_payload(PAYLOAD, "")
