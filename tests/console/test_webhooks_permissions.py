"""Merchant webhooks in the console (issue 14): who may not, first — each page and each POST, attacked.

Only `events.manage_webhooks` opens them (the access admin and the operations
admin). An agent, a senior, finance and risk get the 403 page on every GET
and every POST, and nothing changes; a signed-out visitor is sent to sign in;
a POST without the CSRF token is refused even for whoever may.
"""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from core.actor import Actor
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.services.endpoints import endpoint_create
from refunds.enums import Role
from refunds.models import Merchant
from refunds.permissions import Perm, has_perm
from refunds.services.merchants import merchant_default
from tests.events.conftest import PUBLIC_URL
from tests.refunds.factories import UserFactory, captured_order, make_refund

pytestmark = pytest.mark.django_db

OTHER_URL = "https://93.184.215.15/elsewhere"


@pytest.fixture
def target():
    """An endpoint with an event delivered to it: every page and action has something to act on."""
    merchant = merchant_default()
    merchant.contact_email = "ops@acme.example"
    merchant.save()
    endpoint, _ = endpoint_create(merchant=merchant, url=PUBLIC_URL, events=["refund.*"], actor=Actor.system("t"))
    make_refund(order=captured_order(), amount_minor=1000)
    event = Event.objects.get(type="refund.created")
    return endpoint, event


def pages(endpoint, event) -> list[str]:
    slug = endpoint.merchant.slug
    return [
        "/console/webhooks/",
        f"/console/webhooks/merchants/{slug}/",
        f"/console/webhooks/merchants/{slug}/new/",
        f"/console/webhooks/endpoints/{endpoint.public_id}/",
        f"/console/webhooks/endpoints/{endpoint.public_id}/delete/",
    ]


def posts(endpoint, event) -> list[tuple[str, dict]]:
    slug, we = endpoint.merchant.slug, endpoint.public_id
    return [
        (f"/console/webhooks/merchants/{slug}/contact/", {"contact_email": "attacker@evil.example"}),
        (f"/console/webhooks/merchants/{slug}/new/", {"url": OTHER_URL, "events": ["refund.*"]}),
        (f"/console/webhooks/endpoints/{we}/edit/", {"url": OTHER_URL, "events": ["refund.*"]}),
        (f"/console/webhooks/endpoints/{we}/status/", {"disabled": "1"}),
        (f"/console/webhooks/endpoints/{we}/rotate/", {}),
        (f"/console/webhooks/endpoints/{we}/delete/", {}),
        (f"/console/webhooks/endpoints/{we}/redeliver/{event.public_id}/", {}),
    ]


def unchanged(endpoint) -> None:
    fresh = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (fresh.url, fresh.status, fresh.deleted_at, fresh.secret_sealed, fresh.previous_secrets) == (
        PUBLIC_URL,
        "enabled",
        None,
        endpoint.secret_sealed,
        [],
    )
    assert WebhookEndpoint.objects.count() == 1
    assert WebhookDelivery.objects.filter(trigger="redeliver").count() == 0
    assert Merchant.objects.get(pk=endpoint.merchant_id).contact_email == "ops@acme.example"
    assert (
        not AuditEvent.objects.filter(action__startswith="webhook_endpoint.")
        .exclude(action__endswith="created")
        .exists()
    )
    assert not AuditEvent.objects.filter(action__in=["event.redelivered", "merchant.contact_changed"]).exists()


@pytest.mark.parametrize("role", [Role.AGENT, Role.SENIOR_AGENT, Role.FINANCE, Role.RISK, None])
def test_staff_without_the_permission_get_403_on_every_page_and_post_and_nothing_changes(login, target, role):
    endpoint, event = target
    client = login(f"user-{role}", role)
    assert not has_perm(client.user, Perm.MANAGE_WEBHOOKS)

    for path in pages(endpoint, event):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Merchant webhooks are managed by the access admin" in response.content.decode()
    for path, data in posts(endpoint, event):
        response = client.post(path, data)
        assert response.status_code == 403, path
        assert "whsec_" not in response.content.decode()

    unchanged(endpoint)


def test_the_navigation_offers_merchant_webhooks_only_to_who_may(login, target):
    assert "Merchant webhooks" not in login("a", Role.AGENT).get("/console/").content.decode()
    assert "Merchant webhooks" not in login("s", Role.SENIOR_AGENT).get("/console/").content.decode()
    assert "Merchant webhooks" not in login("f", Role.FINANCE).get("/finance/").content.decode()
    assert "Merchant webhooks" in login("ops", Role.ADMIN).get("/console/").content.decode()
    assert "Merchant webhooks" in login("keys", Role.ACCESS_ADMIN).get("/console/webhooks/").content.decode()


@pytest.mark.parametrize("role", [Role.ACCESS_ADMIN, Role.ADMIN])
def test_the_access_admin_and_the_operations_admin_hold_the_permission(role):
    assert has_perm(UserFactory(username=f"u-{role}", role=role), Perm.MANAGE_WEBHOOKS)


def test_a_signed_out_visitor_is_sent_to_sign_in_and_changes_nothing(target):
    endpoint, event = target
    client = Client()
    for path in pages(endpoint, event):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/console/login/"), path
    for path, data in posts(endpoint, event):
        response = client.post(path, data)
        assert response.status_code == 302 and response["Location"].startswith("/console/login/"), path
    unchanged(endpoint)


def test_every_post_without_the_csrf_token_is_refused_even_for_an_access_admin(login, target):
    endpoint, event = target
    client = login("keys", Role.ACCESS_ADMIN, enforce_csrf_checks=True)

    for path, data in posts(endpoint, event):
        response = client.post(path, data)
        assert response.status_code == 403, path
        assert "whsec_" not in response.content.decode()

    unchanged(endpoint)


def test_get_never_changes_anything(login, target):
    """The actions answer only POST: a link or an image tag cannot delete, rotate or redeliver."""
    endpoint, event = target
    client = login("keys", Role.ACCESS_ADMIN)
    for path, _ in posts(endpoint, event):
        if path.endswith(("/delete/", "/new/")):
            continue  # their GET is the confirmation page, the empty form
        assert client.get(path).status_code == 405, path
    unchanged(endpoint)


def test_the_admin_index_signposts_the_console_pages_for_who_may_and_only_them(target):
    from tests.refunds.factories import staff_client

    endpoint, _ = target
    keys = staff_client("keys", Role.ACCESS_ADMIN)
    assert "Webhook endpoints" in keys.get("/admin/").content.decode()
    assert keys.get("/admin/events/webhookendpoint/")["Location"] == "/console/webhooks/"
    change = keys.get(f"/admin/events/webhookendpoint/{endpoint.pk}/change/")
    assert change["Location"] == f"/console/webhooks/endpoints/{endpoint.public_id}/"

    finance = staff_client("fin", Role.FINANCE)
    assert "Webhook endpoints" not in finance.get("/admin/").content.decode()
    assert finance.get("/admin/events/webhookendpoint/").status_code == 403
    assert finance.get(f"/admin/events/webhookendpoint/{endpoint.pk}/change/").status_code == 403
