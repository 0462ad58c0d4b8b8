"""Merchant webhooks in the console (issue 14): what staff who may see and do, through the services.

The secret is on the page that answered the POST that made it (create,
rotate), never on any other page afterwards; every change is audited by the
service the view calls; refusals (an unsafe URL, a bad address) come back on
the form's field.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.signing import secret_unseal
from refunds.enums import Role
from refunds.models import Merchant
from refunds.services.merchants import merchant_create, merchant_default
from tests.console.webhook_fixtures import a_refund_with_events, an_endpoint, delivery_of, record_attempt
from tests.events.conftest import PUBLIC_URL

pytestmark = pytest.mark.django_db

NEW_URL = "https://93.184.215.15/hooks"


@pytest.fixture
def keys(login):
    """The access admin (who keeps the merchants' credentials)."""
    return login("keys", Role.ACCESS_ADMIN)


@pytest.fixture
def acme():
    return merchant_default()


def secret_in(html: str) -> str:
    start = html.index('id="endpoint-secret"')
    value = html[start:].split('value="', 1)[1]
    return value.split('"', 1)[0]


def test_creating_an_endpoint_shows_its_secret_once_and_never_again(keys, acme):
    response = keys.post(
        f"/console/webhooks/merchants/{acme.slug}/new/",
        {"url": PUBLIC_URL, "events": ["refund.completed", "refund.failed"], "description": "ERP"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    secret = secret_in(html)
    assert secret.startswith("whsec_") and secret == secret_unseal(endpoint.secret_sealed)
    assert "Shown once." in html and "Copy secret" in html
    assert "no-store" in response["Cache-Control"]
    assert (endpoint.merchant, endpoint.url, endpoint.events) == (
        acme,
        PUBLIC_URL,
        ["refund.completed", "refund.failed"],
    )
    created = AuditEvent.objects.get(action="webhook_endpoint.created")
    assert created.actor_label == "keys" and secret not in str(created.note) + str(created.after)

    # Afterwards: the merchant's page, the endpoint's page, its edit and delete pages never show it.
    for path in (
        "/console/webhooks/",
        f"/console/webhooks/merchants/{acme.slug}/",
        f"/console/webhooks/endpoints/{endpoint.public_id}/",
        f"/console/webhooks/endpoints/{endpoint.public_id}/delete/",
    ):
        page = keys.get(path).content.decode()
        assert secret not in page and "whsec_" not in page, path
    # Nor does the session keep it (a message, a stashed value) for a later page.
    assert secret not in str(dict(keys.session.items()))


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://93.184.215.14/hooks", "https"),
        ("https://127.0.0.1/hooks", "public"),
        ("https://10.0.0.8/hooks", "public"),
    ],
)
def test_an_unsafe_url_is_refused_on_the_url_field_and_nothing_is_created(keys, acme, settings, url, said):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = keys.post(f"/console/webhooks/merchants/{acme.slug}/new/", {"url": url, "events": ["refund.*"]})

    assert response.status_code == 400
    assert said in response.context["form"].errors["url"][0]
    assert "whsec_" not in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_no_event_type_ticked_is_refused(keys, acme):
    response = keys.post(f"/console/webhooks/merchants/{acme.slug}/new/", {"url": PUBLIC_URL})
    assert response.status_code == 400
    assert response.context["form"].errors["events"] == ["Subscribe to at least one event type."]
    assert not WebhookEndpoint.objects.exists()


def test_rotating_shows_the_new_secret_once_and_says_the_old_one_signs_for_24_hours(keys, acme):
    endpoint = an_endpoint(acme)
    old_sealed = endpoint.secret_sealed

    response = keys.post(f"/console/webhooks/endpoints/{endpoint.public_id}/rotate/")

    html = response.content.decode()
    endpoint.refresh_from_db()
    new_secret = secret_in(html)
    assert new_secret == secret_unseal(endpoint.secret_sealed) and endpoint.secret_sealed != old_sealed
    assert [entry["sealed"] for entry in endpoint.previous_secrets] == [old_sealed]
    assert "24 hours" in html and "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(action="webhook_endpoint.secret_rotated", actor_label="keys").exists()
    page = keys.get(f"/console/webhooks/endpoints/{endpoint.public_id}/").content.decode()
    assert new_secret not in page and secret_unseal(old_sealed) not in page


def test_editing_changes_url_events_and_description_through_the_service(keys, acme):
    endpoint = an_endpoint(acme)

    response = keys.post(
        f"/console/webhooks/endpoints/{endpoint.public_id}/edit/",
        {"url": NEW_URL, "events": ["refund.completed"], "description": "Billing"},
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.description) == (NEW_URL, ["refund.completed"], "Billing")
    updated = AuditEvent.objects.get(action="webhook_endpoint.updated")
    assert (updated.before["url"], updated.after["url"]) == (PUBLIC_URL, NEW_URL)
    assert "Endpoint saved." in keys.get(response["Location"]).content.decode()


def test_an_unsafe_url_on_edit_is_refused_and_the_endpoint_stays(keys, acme):
    endpoint = an_endpoint(acme)
    response = keys.post(
        f"/console/webhooks/endpoints/{endpoint.public_id}/edit/",
        {"url": "https://169.254.169.254/latest", "events": ["refund.*"]},
    )
    assert response.status_code == 400 and response.context["form"].errors["url"]
    endpoint.refresh_from_db()
    assert endpoint.url == PUBLIC_URL


def test_disable_then_enable(keys, acme):
    endpoint = an_endpoint(acme)
    path = f"/console/webhooks/endpoints/{endpoint.public_id}/"

    keys.post(path + "status/", {"disabled": "1"})
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "merchant")
    page = keys.get(path).content.decode()
    assert "by the merchant or staff" in page and "Enable endpoint" in page

    keys.post(path + "status/", {"disabled": "0"})
    endpoint.refresh_from_db()
    assert endpoint.status == "enabled"
    assert AuditEvent.objects.filter(action="webhook_endpoint.updated").count() == 2


def test_an_endpoint_failing_and_one_disabled_for_failing_say_so(keys, acme):
    failing = an_endpoint(acme)
    gone = an_endpoint(acme, url=NEW_URL)
    since = timezone.now() - timedelta(days=2)
    WebhookEndpoint.objects.filter(pk=failing.pk).update(failing_since=since)
    WebhookEndpoint.objects.filter(pk=gone.pk).update(
        status="disabled",
        disabled_reason="failing",
        disabled_at=timezone.now(),
        failing_since=since,
        disabled_notice_sent_at=timezone.now(),
    )

    page = keys.get(f"/console/webhooks/merchants/{acme.slug}/").content.decode()

    assert "Failing since" in page
    assert "after 5 days of failed deliveries. The merchant&#x27;s contact was emailed." in page
    listing = keys.get("/console/webhooks/").content.decode()
    # Both have failed for days; one of them is disabled for it.
    assert "2 failing" in listing and "1 disabled" in listing


def test_delete_asks_first_then_deletes_and_keeps_the_history(keys, acme):
    endpoint = an_endpoint(acme)
    refund = a_refund_with_events()
    event = Event.objects.filter(refund=refund).first()
    record_attempt(delivery_of(event, endpoint), status_code=200)
    path = f"/console/webhooks/endpoints/{endpoint.public_id}/"

    confirm = keys.get(path + "delete/")
    assert confirm.status_code == 200 and "Delete endpoint" in confirm.content.decode()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).deleted_at is None

    response = keys.post(path + "delete/")
    assert response["Location"] == f"/console/webhooks/merchants/{acme.slug}/"
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).deleted_at is not None
    assert AuditEvent.objects.filter(action="webhook_endpoint.deleted", actor_label="keys").exists()
    merchant_page = keys.get(response["Location"]).content.decode()
    assert "Deleted endpoints (1)" in merchant_page
    history = keys.get(path).content.decode()
    assert event.public_id in history and "HTTP 200" in history
    assert "Rotate secret</button>" not in history and ">Redeliver</button>" not in history
    # A deleted endpoint takes no more actions.
    assert keys.post(path + "rotate/").status_code == 404
    assert keys.post(path + "delete/").status_code == 404


def test_the_attempts_log_newest_first_paginated_with_one_redeliver_button_per_event(keys, acme):
    endpoint = an_endpoint(acme)
    refund = a_refund_with_events()
    created, approved = Event.objects.filter(refund=refund).order_by("sequence")[:2]
    start = timezone.now() - timedelta(hours=3)
    first = delivery_of(created, endpoint)
    record_attempt(first, status_code=None, error="timed out after 10 s", latency_ms=10000, at=start)
    record_attempt(first, status_code=503, excerpt="upstream unavailable", at=start + timedelta(minutes=1))
    record_attempt(first, status_code=200, excerpt='{"ok": true}', latency_ms=87, at=start + timedelta(minutes=2))
    second = delivery_of(approved, endpoint)
    for minute in range(30):
        record_attempt(second, status_code=500, excerpt="boom", at=start + timedelta(minutes=10 + minute))

    page1 = keys.get(f"/console/webhooks/endpoints/{endpoint.public_id}/")
    html = page1.content.decode()
    lines = page1.context["attempts"]
    assert len(lines) == 25 and page1.context["page"].paginator.count == 33
    assert [line.attempt.number for line in lines[:3]] == [30, 29, 28]  # newest first
    assert "Page 1 of 2" in html and "HTTP 500" in html and approved.type in html
    assert html.count(">Redeliver</button>") == 1  # one per event on the page

    page2 = keys.get(f"/console/webhooks/endpoints/{endpoint.public_id}/?page=2").content.decode()
    assert "timed out after 10 s" in page2 and "10000 ms" in page2 and "upstream unavailable" in page2
    assert "87 ms" in page2 and created.public_id in page2
    assert page2.count(">Redeliver</button>") == 2

    response = keys.post(f"/console/webhooks/endpoints/{endpoint.public_id}/redeliver/{created.public_id}/")
    assert response.status_code == 302
    again = WebhookDelivery.objects.get(event=created, endpoint=endpoint, trigger="redeliver")
    assert (again.status, again.requested_by) == ("pending", "keys")
    assert AuditEvent.objects.filter(action="event.redelivered", actor_label="keys").exists()


def test_redelivering_another_merchants_event_is_not_found(keys, acme, system_actor):
    endpoint = an_endpoint(acme)
    globex = merchant_create(slug="globex", actor=system_actor)
    an_endpoint(globex)
    theirs = Event.objects.filter(refund=a_refund_with_events(globex)).first()

    response = keys.post(f"/console/webhooks/endpoints/{endpoint.public_id}/redeliver/{theirs.public_id}/")

    assert response.status_code == 404
    assert not WebhookDelivery.objects.filter(trigger="redeliver").exists()


def test_redelivering_to_a_disabled_endpoint_says_why(keys, acme):
    endpoint = an_endpoint(acme)
    event = Event.objects.filter(refund=a_refund_with_events()).first()
    keys.post(f"/console/webhooks/endpoints/{endpoint.public_id}/status/", {"disabled": "1"})

    response = keys.post(f"/console/webhooks/endpoints/{endpoint.public_id}/redeliver/{event.public_id}/", follow=True)

    assert "The endpoint is disabled: enable it first." in response.content.decode()
    assert not WebhookDelivery.objects.filter(trigger="redeliver").exists()


def test_the_endpoint_page_costs_the_same_few_queries_however_many_attempts(keys, acme):
    endpoint = an_endpoint(acme)
    event = Event.objects.filter(refund=a_refund_with_events()).first()
    delivery = delivery_of(event, endpoint)
    record_attempt(delivery, status_code=500)
    path = f"/console/webhooks/endpoints/{endpoint.public_id}/"
    keys.get(path)
    with CaptureQueriesContext(connection) as few:
        keys.get(path)
    for _ in range(20):
        record_attempt(delivery, status_code=500)
    with CaptureQueriesContext(connection) as many:
        keys.get(path)
    assert len(many) == len(few)


def test_the_contact_email_is_shown_and_changed_with_an_audit_event(keys, acme):
    acme.contact_email = "old@acme.example"
    acme.save()
    page = keys.get(f"/console/webhooks/merchants/{acme.slug}/").content.decode()
    assert 'value="old@acme.example"' in page

    response = keys.post(f"/console/webhooks/merchants/{acme.slug}/contact/", {"contact_email": "ops@acme.example"})

    assert response.status_code == 302
    assert Merchant.objects.get(pk=acme.pk).contact_email == "ops@acme.example"
    changed = AuditEvent.objects.get(action="merchant.contact_changed")
    assert (changed.actor_label, changed.before, changed.after) == (
        "keys",
        {"contact_email": "old@acme.example"},
        {"contact_email": "ops@acme.example"},
    )


def test_a_contact_that_is_not_an_address_is_refused_on_the_field(keys, acme):
    response = keys.post(f"/console/webhooks/merchants/{acme.slug}/contact/", {"contact_email": "not an address"})
    assert response.status_code == 400
    assert "is not an email address" in response.context["contact_form"].errors["contact_email"][0]
    assert Merchant.objects.get(pk=acme.pk).contact_email == ""
    assert not AuditEvent.objects.filter(action="merchant.contact_changed").exists()


def test_an_operations_admin_manages_endpoints_too(login, acme):
    ops = login("ops", Role.ADMIN)
    response = ops.post(f"/console/webhooks/merchants/{acme.slug}/new/", {"url": PUBLIC_URL, "events": ["refund.*"]})
    assert response.status_code == 200 and "whsec_" in response.content.decode()
    assert AuditEvent.objects.filter(action="webhook_endpoint.created", actor_label="ops").exists()
