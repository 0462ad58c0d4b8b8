"""Minting and revoking API keys: audited, and a revoked key is refused at once."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from core.errors import ERR_AUTHN_REQUIRED, ERR_VALIDATION, DomainError
from refunds.models import ApiKey
from refunds.services.api_keys import api_key_create, api_key_revoke
from refunds.services.merchants import merchant_create
from tests.refunds.factories import agent, staff_client

pytestmark = pytest.mark.django_db


def test_minting_a_key_is_audited_without_its_secret():
    key, raw = api_key_create(username="merchant", scopes=["refunds:read"], role="agent")
    event = AuditEvent.objects.get(action="api_key.created")
    assert event.subject == f"api key {key.prefix}"
    assert event.note == "for merchant (role agent); merchant default; scopes refunds:read"
    assert raw not in event.note and key.key_hash not in event.note


def test_revoking_refuses_the_key_on_the_next_request_and_is_audited():
    key, raw = api_key_create(username="merchant", scopes=["refunds:read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/v1/refunds/rf_unknown").status_code == 404  # authenticated

    assert api_key_revoke(key_ids=[key.pk], actor=agent("security")) == 1

    response = client.get("/v1/refunds/rf_unknown")
    assert (response.status_code, response.json()["code"]) == (401, ERR_AUTHN_REQUIRED)
    event = AuditEvent.objects.get(action="api_key.revoked")
    assert (event.subject, event.actor_label) == (f"api key {key.prefix}", "security")


def test_revoking_again_changes_nothing():
    key, _ = api_key_create(username="merchant", scopes=["refunds:read"])
    api_key_revoke(key_ids=[key.pk], actor=agent("security"))
    first = ApiKey.objects.get(pk=key.pk).revoked_at
    assert api_key_revoke(key_ids=[key.pk], actor=agent("security")) == 0
    assert ApiKey.objects.get(pk=key.pk).revoked_at == first
    assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1


def test_the_admin_action_revokes_through_the_service():
    key, _ = api_key_create(username="merchant", scopes=["refunds:read"])
    client = staff_client("root", "admin", superuser=True)
    response = client.post("/admin/refunds/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    assert "Revoked 1 key(s)" in response.content.decode()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert AuditEvent.objects.get(action="api_key.revoked").actor_label == "root"


# --- merchants (issue 10 item 3) ---------------------------------------------------------


def test_a_key_belongs_to_the_default_merchant_unless_one_is_named(system_actor):
    merchant_create(slug="acme", actor=system_actor)
    default_key, _ = api_key_create(username="shop", scopes=["refunds:read"])
    acme_key, _ = api_key_create(username="acme-system", scopes=["refunds:read"], merchant="acme")
    assert (default_key.merchant.slug, acme_key.merchant.slug) == ("default", "acme")


def test_an_unknown_merchant_is_refused_naming_the_known_ones():
    with pytest.raises(DomainError) as error:
        api_key_create(username="shop", scopes=["refunds:read"], merchant="acme")
    assert error.value.code == ERR_VALIDATION
    assert "Unknown merchant 'acme'. Known: default" in error.value.message
    assert not ApiKey.objects.exists()


def test_one_user_never_holds_keys_of_two_merchants(system_actor):
    merchant_create(slug="acme", actor=system_actor)
    api_key_create(username="shop", scopes=["refunds:read"])
    with pytest.raises(DomainError) as error:
        api_key_create(username="shop", scopes=["refunds:read"], merchant="acme")
    assert "holds keys of merchant 'default'" in error.value.message
    assert ApiKey.objects.count() == 1
