"""Registering, changing, deleting webhook endpoints and rotating their secrets (events.services.endpoints)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.errors import ERR_NOT_FOUND, ERR_VALIDATION, DomainError
from events.enums import DeliveryStatus, EndpointStatus
from events.models import WebhookDelivery, WebhookEndpoint
from events.services.endpoints import endpoint_create, endpoint_delete, endpoint_rotate_secret, endpoint_update
from events.signing import ROTATION_OVERLAP, previous_secret_entry, secret_seal, secret_unseal, signing_secrets
from tests.events.conftest import PUBLIC_URL
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db

UNSAFE_URLS = [
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://localhost/hook",
    "http://93.184.215.14/hook",
]


def create(merchant, actor, **kwargs):
    return endpoint_create(
        merchant=merchant,
        url=kwargs.pop("url", PUBLIC_URL),
        events=kwargs.pop("events", ["refund.*"]),
        actor=actor,
        **kwargs,
    )


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_a_private_loopback_link_local_or_plain_http_url_is_refused(acme, system_actor, url):
    with pytest.raises(DomainError) as refused:
        create(acme, system_actor, url=url)
    assert refused.value.code == ERR_VALIDATION
    assert refused.value.details == {"field": "url"}
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_the_same_urls_are_accepted_when_private_urls_are_allowed(acme, system_actor, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    endpoint, _ = create(acme, system_actor, url=url)
    assert endpoint.url == url


def test_a_url_changed_to_a_private_address_is_refused(acme, system_actor):
    endpoint, _ = create(acme, system_actor)
    with pytest.raises(DomainError) as refused:
        endpoint_update(endpoint_id=endpoint.pk, actor=system_actor, url="https://169.254.169.254/")
    assert refused.value.details == {"field": "url"}
    endpoint.refresh_from_db()
    assert endpoint.url == PUBLIC_URL


@pytest.mark.parametrize(
    "events, says",
    [
        ([], "at least one"),
        ("refund.*", "at least one"),
        (["refund.created", "refund.nope"], "'refund.nope'"),
        (["refund.created", "refund.created"], "once"),
        ([7], "7"),
    ],
)
def test_events_must_be_distinct_known_types(acme, system_actor, events, says):
    with pytest.raises(DomainError) as refused:
        create(acme, system_actor, events=events)
    assert refused.value.details == {"field": "events"}
    assert says in refused.value.message


def test_a_description_is_at_most_500_characters(acme, system_actor):
    create(acme, system_actor, description="x" * 500)
    with pytest.raises(DomainError) as refused:
        create(acme, system_actor, description="x" * 501)
    assert refused.value.details == {"field": "description"}


def test_the_secret_is_returned_once_and_stored_only_encrypted(acme, system_actor):
    endpoint, secret = create(acme, system_actor)
    assert secret.startswith("whsec_")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM events_webhookendpoint WHERE id = %s", [endpoint.pk])
        row = json.dumps(cursor.fetchone(), default=str)
    assert secret not in row and secret.removeprefix("whsec_") not in row
    assert secret_unseal(WebhookEndpoint.objects.get(pk=endpoint.pk).secret_sealed) == secret


def test_rotation_keeps_the_old_secret_signing_for_24_hours(acme, system_actor):
    endpoint, old = create(acme, system_actor)
    before = timezone.now()
    new = endpoint_rotate_secret(endpoint_id=endpoint.pk, actor=system_actor)
    endpoint.refresh_from_db()
    assert new != old and secret_unseal(endpoint.secret_sealed) == new
    [entry] = endpoint.previous_secrets
    assert secret_unseal(entry["sealed"]) == old
    expires = parse_datetime(entry["expires_at"])
    assert before + ROTATION_OVERLAP <= expires <= timezone.now() + ROTATION_OVERLAP
    assert signing_secrets(secret_sealed=endpoint.secret_sealed, previous=endpoint.previous_secrets) == [new, old]
    later = expires + timedelta(seconds=1)
    assert signing_secrets(secret_sealed=endpoint.secret_sealed, previous=endpoint.previous_secrets, now=later) == [new]


def test_rotation_drops_previous_secrets_past_their_overlap(acme, system_actor):
    endpoint, _ = create(acme, system_actor)
    expired = previous_secret_entry(sealed=secret_seal("whsec_b2xk"), now=timezone.now() - timedelta(days=2))
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secrets=[expired])
    endpoint_rotate_secret(endpoint_id=endpoint.pk, actor=system_actor)
    endpoint.refresh_from_db()
    assert len(endpoint.previous_secrets) == 1 and endpoint.previous_secrets[0] != expired


def test_the_limit_of_live_endpoints_counts_deleted_ones_out(acme, system_actor, settings):
    settings.WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT = 2
    first, _ = create(acme, system_actor)
    create(acme, system_actor)
    with pytest.raises(DomainError) as refused:
        create(acme, system_actor)
    assert refused.value.code == ERR_VALIDATION and "at most 2" in refused.value.message
    endpoint_delete(endpoint_id=first.pk, actor=system_actor)
    create(acme, system_actor)


def test_the_limit_is_per_merchant(acme, globex, system_actor, settings):
    settings.WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT = 1
    create(acme, system_actor)
    create(globex, system_actor)


def test_update_changes_only_what_is_given(acme, system_actor):
    endpoint, _ = create(acme, system_actor, description="ERP")
    endpoint_update(endpoint_id=endpoint.pk, actor=system_actor, events=["refund.completed", "refund.failed"])
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.events) == (
        PUBLIC_URL,
        "ERP",
        ["refund.completed", "refund.failed"],
    )
    assert endpoint.status == EndpointStatus.ENABLED


def test_disabling_by_request_says_merchant_and_enabling_forgets_the_failures(acme, system_actor):
    endpoint, _ = create(acme, system_actor)
    endpoint_update(endpoint_id=endpoint.pk, actor=system_actor, disabled=True)
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == (EndpointStatus.DISABLED, "merchant")
    assert endpoint.disabled_at is not None
    # As if the delivery engine had disabled it for failing.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        disabled_reason="failing", failing_since=timezone.now() - timedelta(days=5)
    )
    endpoint_update(endpoint_id=endpoint.pk, actor=system_actor, disabled=False)
    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.ENABLED
    assert (endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since) == ("", None, None)


def test_delete_fails_the_pending_deliveries_and_hides_the_endpoint(acme, system_actor):
    endpoint, _ = create(acme, system_actor)
    make_refund(order=captured_order(), amount_minor=1000)
    pending = WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
    assert pending.exists()
    endpoint_delete(endpoint_id=endpoint.pk, actor=system_actor)
    assert not pending.exists()
    failed = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert {(d.status, d.last_error) for d in failed} == {(DeliveryStatus.FAILED, "endpoint deleted")}
    for call in (
        lambda: endpoint_delete(endpoint_id=endpoint.pk, actor=system_actor),
        lambda: endpoint_update(endpoint_id=endpoint.pk, actor=system_actor, description="x"),
        lambda: endpoint_rotate_secret(endpoint_id=endpoint.pk, actor=system_actor),
    ):
        with pytest.raises(DomainError) as refused:
            call()
        assert refused.value.code == ERR_NOT_FOUND


def test_every_change_is_audited_and_no_secret_reaches_the_trail(acme, system_actor):
    endpoint, first = create(acme, system_actor, description="ERP")
    endpoint_update(endpoint_id=endpoint.pk, actor=system_actor, description="ERP v2")
    second = endpoint_rotate_secret(endpoint_id=endpoint.pk, actor=system_actor)
    endpoint_delete(endpoint_id=endpoint.pk, actor=system_actor)
    events = list(AuditEvent.objects.filter(subject=f"webhook endpoint {endpoint.public_id}").order_by("id"))
    assert [e.action for e in events] == [
        AuditAction.WEBHOOK_ENDPOINT_CREATED,
        AuditAction.WEBHOOK_ENDPOINT_UPDATED,
        AuditAction.WEBHOOK_ENDPOINT_SECRET_ROTATED,
        AuditAction.WEBHOOK_ENDPOINT_DELETED,
    ]
    assert PUBLIC_URL in events[0].note
    assert (events[1].before["description"], events[1].after["description"]) == ("ERP", "ERP v2")
    trail = json.dumps([[e.note, e.before, e.after, e.subject] for e in events])
    sealed = WebhookEndpoint.objects.get(pk=endpoint.pk).secret_sealed
    for secret in (first, second, first[6:], second[6:], sealed):
        assert secret not in trail


def test_an_update_that_changes_nothing_writes_nothing(acme, system_actor):
    endpoint, _ = create(acme, system_actor, description="ERP")
    endpoint_update(endpoint_id=endpoint.pk, actor=system_actor, description="ERP", disabled=False)
    assert not AuditEvent.objects.filter(action=AuditAction.WEBHOOK_ENDPOINT_UPDATED).exists()
