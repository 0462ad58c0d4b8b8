"""Which providers exist, and one client per provider per thread (a requests.Session is not thread-safe).

Adding a provider is one package under `providers/` and one line in `PROVIDERS`
(docs/architecture.md "Add a provider"). A payment names its provider;
`settings.PROVIDER` is only the default for payments that do not say.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.utils.module_loading import import_string

from providers.base import Provider

# name -> dotted path of a callable returning the configured Provider (imported on first use, so a
# process that never calls a provider never imports its HTTP client).
PROVIDERS: dict[str, str] = {
    "stripe": "providers.stripe.provider_from_settings",
    "manual": "providers.manual.ManualProvider",
}

_local = threading.local()


class UnknownProvider(LookupError):
    pass


def provider_names() -> list[str]:
    return list(PROVIDERS)


def default_provider_name() -> str:
    """The provider of payments that do not name one (`PROVIDER`, default `stripe`)."""
    name = settings.PROVIDER
    if name not in PROVIDERS:
        raise UnknownProvider(f"PROVIDER={name!r} is not one of {', '.join(PROVIDERS)}")
    return name


def get_provider(name: str | None = None) -> Provider:
    """The client of provider `name` (default: `PROVIDER`), built once per thread and configuration."""
    name = name or default_provider_name()
    if name not in PROVIDERS:
        raise UnknownProvider(f"no provider named {name!r}; known: {', '.join(PROVIDERS)}")
    cache: dict[str, tuple[tuple, Provider]] = getattr(_local, "providers", None) or {}
    _local.providers = cache
    config = (
        settings.PROVIDER_API_BASE,
        settings.PROVIDER_API_KEY,
        settings.PROVIDER_TIMEOUT_SECONDS,
        settings.PROVIDER_WEBHOOK_SECRET,
    )
    cached = cache.get(name)
    if cached is not None and cached[0] == config:
        return cached[1]
    provider = import_string(PROVIDERS[name])()
    cache[name] = (config, provider)
    return provider
