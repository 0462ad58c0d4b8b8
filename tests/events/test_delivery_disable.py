"""An endpoint failing for WEBHOOK_DISABLE_AFTER_SECONDS is disabled, audited, and its contact emailed once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent
from events.delivery import deliver_endpoint, deliveries_sweep
from events.enums import DeliveryStatus, EndpointStatus
from events.models import WebhookDelivery, WebhookEndpoint
from refunds.services.merchants import merchant_default
from tests.events.webhook_setup import endpoint_at, make_due, pending, refund_with_events

pytestmark = pytest.mark.django_db
CONTACT = "ops@shop.example"


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def failing_for_five_days(merchant_receiver, settings):
    """An endpoint whose first failure was 5 days and a second ago, answering 500, with deliveries pending."""
    merchant = merchant_default()
    merchant.contact_email = CONTACT
    merchant.save(update_fields=["contact_email"])
    merchant_receiver.set_mode("/a", status=500)
    since = timezone.now() - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS + 1)
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url("/a"), failing_since=since)
    refund_with_events()
    return endpoint


def test_five_days_of_failures_disable_the_endpoint_and_email_its_contact_once(failing_for_five_days) -> None:
    endpoint = failing_for_five_days

    deliver_endpoint(endpoint.pk)

    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == (EndpointStatus.DISABLED, "failing")
    assert endpoint.disabled_at is not None and endpoint.disabled_notice_sent_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [CONTACT] and endpoint.public_id in mail.outbox[0].subject
    audited = AuditEvent.objects.get(action=AuditAction.WEBHOOK_ENDPOINT_DISABLED_FAILING)
    assert audited.subject == endpoint.public_id and audited.actor_type == "system"
    assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_ENDPOINT_DISABLED_NOTICE).count() == 1
    # Its deliveries wait for it: pending, never sent while it is disabled, never a second email.
    assert pending(endpoint)
    make_due(endpoint)
    assert deliver_endpoint(endpoint.pk) == "not_live"
    deliveries_sweep()
    assert len(mail.outbox) == 1


def test_a_disabled_endpoint_receives_nothing_until_enabled_again(failing_for_five_days, merchant_receiver) -> None:
    endpoint = failing_for_five_days
    deliver_endpoint(endpoint.pk)
    received = len(merchant_receiver.requests("/a"))
    make_due(endpoint)
    deliver_endpoint(endpoint.pk)
    assert len(merchant_receiver.requests("/a")) == received

    merchant_receiver.set_mode("/a", status=200)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(status=EndpointStatus.ENABLED, disabled_reason="")
    deliver_endpoint(endpoint.pk)

    assert pending(endpoint) == []
    assert not WebhookDelivery.objects.filter(endpoint=endpoint).exclude(status=DeliveryStatus.DELIVERED).exists()


def test_a_notice_the_mail_server_refused_is_sent_by_the_sweeper(failing_for_five_days, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens

    deliver_endpoint(failing_for_five_days.pk)

    endpoint = WebhookEndpoint.objects.get(pk=failing_for_five_days.pk)
    assert endpoint.status == EndpointStatus.DISABLED and endpoint.disabled_notice_sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    deliveries_sweep()
    deliveries_sweep()
    assert len(mail.outbox) == 1
    endpoint.refresh_from_db()
    assert endpoint.disabled_notice_sent_at is not None


def test_without_a_contact_the_disable_is_recorded_and_nobody_emailed(failing_for_five_days) -> None:
    merchant = merchant_default()
    merchant.contact_email = ""
    merchant.save(update_fields=["contact_email"])

    deliver_endpoint(failing_for_five_days.pk)
    deliveries_sweep()

    assert mail.outbox == []
    notice = AuditEvent.objects.get(action=AuditAction.WEBHOOK_ENDPOINT_DISABLED_NOTICE)
    assert "no contact email" in notice.note


def test_failures_for_less_than_five_days_keep_the_endpoint_enabled(merchant_receiver, settings) -> None:
    merchant_receiver.set_mode("/a", status=500)
    since = timezone.now() - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS - 60)
    endpoint, _ = endpoint_at(merchant_receiver.endpoint_url("/a"), failing_since=since)
    refund_with_events()

    deliver_endpoint(endpoint.pk)

    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.ENABLED and endpoint.failing_since == since
    assert mail.outbox == []


def test_once_enabled_again_deliveries_older_than_the_window_fail_after_one_more_try(
    failing_for_five_days, merchant_receiver, settings
) -> None:
    from datetime import timedelta as _td

    endpoint = failing_for_five_days
    deliver_endpoint(endpoint.pk)
    old = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk").first()
    WebhookDelivery.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - _td(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS + 1)
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        status=EndpointStatus.ENABLED, disabled_reason="", failing_since=None
    )
    make_due(endpoint)

    deliver_endpoint(endpoint.pk)  # still answering 500

    old.refresh_from_db()
    assert old.status == DeliveryStatus.FAILED
    assert all(d.pk != old.pk for d in pending(endpoint))


def test_an_endpoint_enabled_again_gets_a_fresh_failing_clock(failing_for_five_days) -> None:
    endpoint = failing_for_five_days
    deliver_endpoint(endpoint.pk)
    # Enabled again by a write that leaves failing_since and disabled_at as they were.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(status=EndpointStatus.ENABLED, disabled_reason="")
    make_due(endpoint)

    deliver_endpoint(endpoint.pk)  # still failing

    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.ENABLED
    assert endpoint.failing_since > endpoint.disabled_at
