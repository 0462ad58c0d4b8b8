"""What the processes a test starts have sent, across processes: Django's file email backend, read back."""

from __future__ import annotations

from collections import Counter
from email import message_from_bytes
from pathlib import Path

FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
# The file backend ends every message with this line (django.core.mail.backends.filebased).
_SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def mailbox_env(directory: Path) -> dict[str, str]:
    """Environment for an app process (config/settings/test.py) to write what it sends under `directory`."""
    return {"TEST_EMAIL_BACKEND": FILE_BACKEND, "TEST_EMAIL_FILE_PATH": str(directory)}


def sent_messages(directory: Path) -> Counter[str]:
    """How many times each customer email (its X-Refund-Message id) was handed to the mail server."""
    sent: Counter[str] = Counter()
    for path in sorted(directory.glob("*.log")):
        for raw in path.read_bytes().split(_SEPARATOR):
            if raw.strip():
                sent[message_from_bytes(raw.lstrip())["X-Refund-Message"]] += 1
    return sent
