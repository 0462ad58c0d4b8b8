"""Store credit codes: what the customer types at checkout, and what the database keeps of it.

A code is `SC-XXXX-XXXX-XXXX`: 12 symbols from a 32-symbol alphabet without
0/O and 1/I (read aloud, typed from a phone, printed in an email), so 60 bits
from `secrets` — nobody finds a live code by guessing, and lookups are
rate-limited besides (api.throttling.CreditMissThrottle).

The database never holds a spendable code in clear: lookups go by a keyed
digest (HMAC under a sub-key of SECRET_KEY), and the code itself is sealed
with Fernet (STORE_CREDIT_ENCRYPTION_KEY) for the status page, the email and
the merchant's refund document. A copy of the database alone gives neither.
"""

from __future__ import annotations

import re
import secrets

from cryptography.fernet import MultiFernet
from django.conf import settings

from core.crypto import fernet_for, keyed_digest

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
GROUPS, GROUP_LENGTH = 3, 4
PREFIX = "SC"
_SEPARATORS = re.compile(r"[\s\-_]+")
_PURPOSE_DIGEST = b"refund-desk store credit code digest v1"
_PURPOSE_SEAL = b"refund-desk store credit code v1"


def code_new() -> str:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH))
    groups = [symbols[i : i + GROUP_LENGTH] for i in range(0, len(symbols), GROUP_LENGTH)]
    return "-".join([PREFIX, *groups])


def code_normalize(value: str) -> str | None:
    """The canonical form of a typed code (any case, with or without dashes or spaces); None if it cannot be one."""
    compact = _SEPARATORS.sub("", str(value)).upper()
    if compact.startswith(PREFIX):
        compact = compact[len(PREFIX) :]
    if len(compact) != GROUPS * GROUP_LENGTH or any(symbol not in ALPHABET for symbol in compact):
        return None
    return "-".join([PREFIX, *(compact[i : i + GROUP_LENGTH] for i in range(0, len(compact), GROUP_LENGTH))])


def code_digest(code: str) -> str:
    """The lookup key of a canonical code."""
    return keyed_digest(code, purpose=_PURPOSE_DIGEST)


def _fernet() -> MultiFernet:
    return fernet_for(configured=settings.STORE_CREDIT_ENCRYPTION_KEY, purpose=_PURPOSE_SEAL)


def code_seal(code: str) -> str:
    return _fernet().encrypt(code.encode()).decode()


def code_unseal(sealed: str) -> str:
    return _fernet().decrypt(sealed.encode()).decode()


def code_masked(last_group: str) -> str:
    """What staff see: enough to match a customer's call, not enough to spend."""
    return f"{PREFIX}-••••-••••-{last_group}"
