"""The configured provider, one client per thread (a requests.Session is not thread-safe)."""

from __future__ import annotations

import threading

from django.conf import settings

from providers.base import Provider

_local = threading.local()


def get_provider() -> Provider:
    config = (
        settings.PROVIDER,
        settings.PROVIDER_API_BASE,
        settings.PROVIDER_API_KEY,
        settings.PROVIDER_TIMEOUT_SECONDS,
    )
    cached = getattr(_local, "provider", None)
    if cached is not None and cached[0] == config:
        return cached[1]
    if settings.PROVIDER != "stripe":
        raise RuntimeError(f"PROVIDER={settings.PROVIDER!r} has no API client (manual payouts are paid by finance)")
    from providers.stripe.client import StripeProtocolProvider

    provider = StripeProtocolProvider(
        settings.PROVIDER_API_BASE,
        settings.PROVIDER_API_KEY,
        settings.PROVIDER_TIMEOUT_SECONDS,
        connect_timeout=min(3.0, settings.PROVIDER_TIMEOUT_SECONDS),
    )
    _local.provider = (config, provider)
    return provider
