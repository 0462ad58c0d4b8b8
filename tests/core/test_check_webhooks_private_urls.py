"""`check --deploy` warns when webhooks may go to private addresses in production (refund_desk.W003)."""

from __future__ import annotations

from core.checks import check_webhooks_private_urls


def test_private_webhook_urls_in_production_are_warned_about(settings) -> None:
    settings.DEBUG, settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False, True

    (warning,) = check_webhooks_private_urls(None)

    assert warning.id == "refund_desk.W003"


def test_the_demo_and_the_default_are_quiet(settings) -> None:
    settings.DEBUG, settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True, True
    assert check_webhooks_private_urls(None) == []
    settings.DEBUG, settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False, False
    assert check_webhooks_private_urls(None) == []
