"""Log lines of staff sign-in (SPEC §10 message ids `MSG.auth.*`), with the username as a keyed digest.

Staff usernames may be email addresses, and no email goes to a log line;
the digest still lets an operator follow one account through an attack.
Passwords and codes are never passed here.
"""

from __future__ import annotations

import logging
from typing import Any

from core.crypto import keyed_digest

logger = logging.getLogger("console.auth")


def username_digest(username: str) -> str:
    """A stable, non-reversible tag for a username (keyed, so a list of known emails cannot undo it)."""
    return keyed_digest(username.strip().lower(), purpose=b"refund-desk log username")[:16]


def log_auth(message_id: str, username: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, message_id, extra={"message_id": message_id, "user": username_digest(username), **fields})
