"""Symmetric encryption at rest for the secrets we must be able to read back (Fernet).

Each purpose has its own key setting: one Fernet key, or several separated by
commas — the first encrypts, all decrypt, so keys rotate without rewriting
old data. Unset, a purpose key is derived from SECRET_KEY with HKDF, so the
demo needs no configuration (rotating SECRET_KEY then makes that data
unreadable: set the key explicitly in production).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def fernet_for(*, configured: str | None, purpose: bytes) -> MultiFernet:
    """The keys of one purpose: `configured` (comma-separated Fernet keys) or derived from SECRET_KEY."""
    return _fernet(configured or "", purpose, settings.SECRET_KEY)


@lru_cache(maxsize=16)
def _fernet(configured: str, purpose: bytes, secret_key: str) -> MultiFernet:
    keys = [key.strip() for key in configured.split(",") if key.strip()]
    if keys:
        return MultiFernet([Fernet(key) for key in keys])
    return MultiFernet([Fernet(derived_key(secret_key=secret_key, purpose=purpose))])


def derived_key(*, secret_key: str, purpose: bytes) -> str:
    """The Fernet key a purpose gets from SECRET_KEY when none is configured (the demo; older deploys).

    Production must configure its keys; a deploy that used to run on derived
    keys lists this one after its new key (`new,derived`) so existing data stays readable.
    """
    # A dedicated sub-key per purpose: the raw SECRET_KEY is never used as an encryption key.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())
    return base64.urlsafe_b64encode(derived).decode()


def keyed_digest(value: str, *, purpose: bytes) -> str:
    """A keyed hash (HMAC-SHA256 under a sub-key of SECRET_KEY for `purpose`), 32 hex characters.

    Equal values give equal digests, so a record can be matched against a
    value one already knows; without the key, a list of guesses (every
    address of a leaked list) cannot be checked against it, as a plain
    SHA-256 could.
    """
    return hmac.new(_subkey(purpose, settings.SECRET_KEY), value.encode(), hashlib.sha256).hexdigest()[:32]


@lru_cache(maxsize=16)
def _subkey(purpose: bytes, secret_key: str) -> bytes:
    # Derived once per purpose (and SECRET_KEY, so a test changing it gets a fresh key), not per digest.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())
