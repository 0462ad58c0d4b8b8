"""Which providers exist, and one client per provider per thread (a requests.Session is not thread-safe).

Adding a provider is one package under `providers/` and one line in `PROVIDERS`.
A payment names its provider (`Payment.provider`); `settings.PROVIDER` is only
the default for payments that do not say, and the provider whose webhooks
arrive at `/webhooks/payments`.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.utils.module_loading import import_string

from providers.base import Provider

# name -> dotted path of its `Provider` class. Imported on first use, so a process that never asks
# for a provider never imports its HTTP client.
PROVIDERS: dict[str, str] = {
    "stripe": "providers.stripe.client.StripeProtocolProvider",
    "manual": "providers.manual.ManualProvider",
}

# The settings a provider is built from: a change (tests, a reloaded configuration) builds it anew.
_CONFIG_SETTINGS = (
    "PROVIDER_API_BASE",
    "PROVIDER_API_KEY",
    "PROVIDER_TIMEOUT_SECONDS",
    "PROVIDER_WEBHOOK_SECRET",
    "WEBHOOK_TOLERANCE_SECONDS",
)

_local = threading.local()


class UnknownProvider(LookupError):
    """A provider name that is not in `PROVIDERS`."""


def provider_names() -> list[str]:
    """Every provider name, in registration order (the values stored on payments and runs)."""
    return list(PROVIDERS)


def provider_class(name: str) -> type[Provider]:
    """The `Provider` class of `name`, for its capabilities and label without building a client."""
    if name not in PROVIDERS:
        raise UnknownProvider(f"no provider named {name!r}; known: {', '.join(PROVIDERS)}")
    return import_string(PROVIDERS[name])


def provider_choices() -> list[tuple[str, str]]:
    """(name, label) of every provider, for form and command choices."""
    return [(name, provider_class(name).label) for name in PROVIDERS]


def default_provider_name() -> str:
    """The provider of payments that do not name one (`PROVIDER`, default `stripe`)."""
    name = settings.PROVIDER
    if name not in PROVIDERS:
        raise UnknownProvider(f"PROVIDER={name!r} is not one of {', '.join(PROVIDERS)}")
    return name


def get_provider(name: str | None = None) -> Provider:
    """The client of provider `name` (default: `PROVIDER`), built once per thread and configuration."""
    name = name or default_provider_name()
    cls = provider_class(name)
    cache: dict[str, tuple[tuple, Provider]] = getattr(_local, "providers", None) or {}
    _local.providers = cache
    config = tuple(getattr(settings, setting, None) for setting in _CONFIG_SETTINGS)
    cached = cache.get(name)
    if cached is not None and cached[0] == config:
        return cached[1]
    provider = cls.from_settings()
    cache[name] = (config, provider)
    return provider
