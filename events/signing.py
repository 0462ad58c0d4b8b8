"""Endpoint secrets and Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is `whsec_` + base64 of 32 random bytes, the form the
`standardwebhooks` libraries take; the HMAC key is the decoded base64 part.
Secrets are kept encrypted at rest (Fernet, WEBHOOK_SECRET_ENCRYPTION_KEY, or a
key derived from SECRET_KEY in the demo) and shown in clear only once.
Signing uses the `standardwebhooks` library itself, so what we send is what
its verifiers accept.
"""

from __future__ import annotations

import base64
import secrets as random_source
from datetime import UTC, datetime, timedelta

from cryptography.fernet import MultiFernet
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from standardwebhooks import Webhook

from core.crypto import fernet_for

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# After a rotation the previous secret signs beside the new one this long, so receivers can switch over.
ROTATION_OVERLAP = timedelta(hours=24)


def secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(SECRET_BYTES)).decode()


def _fernet() -> MultiFernet:
    return fernet_for(configured=settings.WEBHOOK_SECRET_ENCRYPTION_KEY, purpose=b"refund-desk webhook secret v1")


def secret_seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_unseal(sealed: str) -> str:
    return _fernet().decrypt(sealed.encode()).decode()


def previous_secret_entry(*, sealed: str, now: datetime | None = None) -> dict[str, str]:
    """The record a rotated-out secret leaves in `WebhookEndpoint.previous_secrets`."""
    return {"sealed": sealed, "expires_at": ((now or timezone.now()) + ROTATION_OVERLAP).isoformat()}


def live_previous(previous: list[dict[str, str]], *, now: datetime | None = None) -> list[dict[str, str]]:
    """The rotated-out secrets still inside their overlap."""
    now = now or timezone.now()
    return [entry for entry in previous if (parse_datetime(entry["expires_at"]) or now) > now]


def signing_secrets(*, secret_sealed: str, previous: list[dict[str, str]], now: datetime | None = None) -> list[str]:
    """Every secret a delivery is signed with now: the current one, then the previous ones still in overlap."""
    previous_live = live_previous(previous, now=now)
    return [secret_unseal(secret_sealed), *(secret_unseal(entry["sealed"]) for entry in previous_live)]


def signature_headers(*, message_id: str, body: str, secrets: list[str], at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers of one request: id, timestamp, and one `v1,` signature per secret."""
    at = at.astimezone(UTC)
    signatures = [Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body) for secret in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
