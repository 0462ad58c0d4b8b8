"""The registry: which providers exist, their labels and capabilities, one client per thread and configuration."""

from __future__ import annotations

import threading

import pytest

from providers.base import Provider
from providers.manual import ManualProvider
from providers.registry import (
    PROVIDERS,
    UnknownProvider,
    default_provider_name,
    get_provider,
    provider_choices,
    provider_class,
    provider_names,
)
from providers.stripe.client import StripeProtocolProvider


def test_stripe_and_manual_are_registered_by_the_names_stored_on_payments_and_runs() -> None:
    assert provider_names() == ["stripe", "manual"]
    assert provider_choices() == [("stripe", "Stripe protocol"), ("manual", "Manual payouts")]
    assert all(provider_class(name).name == name for name in PROVIDERS)


@pytest.mark.parametrize(
    ("name", "settles_by_hand", "lists_refunds", "reads_reports", "sends_webhooks"),
    [("stripe", False, True, True, True), ("manual", True, False, True, False)],
)
def test_capabilities_are_read_without_building_a_client(
    name: str, settles_by_hand: bool, lists_refunds: bool, reads_reports: bool, sends_webhooks: bool
) -> None:
    cls = provider_class(name)
    assert issubclass(cls, Provider)
    assert (cls.settles_by_hand, cls.lists_refunds, cls.reads_reports, cls.sends_webhooks) == (
        settles_by_hand,
        lists_refunds,
        reads_reports,
        sends_webhooks,
    )


def test_the_default_provider_is_the_provider_setting(settings) -> None:
    settings.PROVIDER = "manual"
    assert default_provider_name() == "manual"
    assert isinstance(get_provider(), ManualProvider)
    settings.PROVIDER = "paypal"
    with pytest.raises(UnknownProvider, match="paypal"):
        default_provider_name()


def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(UnknownProvider, match="known: stripe, manual"):
        get_provider("adyen")
    with pytest.raises(UnknownProvider):
        provider_class("adyen")


def test_the_named_provider_is_built_from_settings(settings) -> None:
    settings.PROVIDER = "manual"  # a payment's own provider wins over the default
    settings.PROVIDER_API_BASE = "http://127.0.0.1:9/"
    settings.PROVIDER_API_KEY = "sk_test_registry"
    settings.PROVIDER_TIMEOUT_SECONDS = 7.0
    settings.PROVIDER_WEBHOOK_SECRET = "whsec_a, whsec_b,"
    settings.WEBHOOK_TOLERANCE_SECONDS = 60

    stripe = get_provider("stripe")

    assert isinstance(stripe, StripeProtocolProvider)
    assert (stripe.api_base, stripe.timeout) == ("http://127.0.0.1:9", (3.0, 7.0))
    assert stripe.session.headers["Authorization"] == "Bearer sk_test_registry"
    assert (stripe.webhook_secrets, stripe.webhook_tolerance_seconds) == (("whsec_a", "whsec_b"), 60)


def test_one_client_per_thread_rebuilt_when_the_configuration_changes(settings) -> None:
    first = get_provider("stripe")
    assert get_provider("stripe") is first

    other: list[Provider] = []
    thread = threading.Thread(target=lambda: other.append(get_provider("stripe")))
    thread.start()
    thread.join()
    assert other[0] is not first

    settings.PROVIDER_WEBHOOK_SECRET = "whsec_rotated"
    assert get_provider("stripe") is not first
