"""The Stripe refunds wire protocol: client, status vocabulary, webhook signatures (SPEC §6).

Everything Stripe-shaped lives in this package; the rest of the code base
speaks `providers.base`. The simulator (devtools/stripe_sim) speaks the same
protocol, so pointing `PROVIDER_API_BASE` at it or at Stripe is configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from providers.stripe.client import StripeProtocolProvider


def provider_from_settings() -> StripeProtocolProvider:
    """The client configured by PROVIDER_API_BASE, PROVIDER_API_KEY and PROVIDER_TIMEOUT_SECONDS."""
    # Imported here: the simulator process imports this package for the signature scheme only.
    from providers.stripe.client import StripeProtocolProvider

    return StripeProtocolProvider(
        settings.PROVIDER_API_BASE,
        settings.PROVIDER_API_KEY,
        settings.PROVIDER_TIMEOUT_SECONDS,
        connect_timeout=min(3.0, settings.PROVIDER_TIMEOUT_SECONDS),
    )
