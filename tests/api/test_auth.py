"""API key authentication in one statement (`api.auth`): the same keys accepted and refused as the ORM query."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from api.auth import api_key_authenticated
from api.models import IdempotencyRecord
from core.errors import ERR_AUTHN_REQUIRED
from refunds.models import ApiKey
from refunds.models.api_key import hash_key
from refunds.services.api_keys import api_key_create, api_key_revoke
from tests.api.conftest import create
from tests.refunds.factories import agent, captured_order

pytestmark = pytest.mark.django_db


def loaded(instance) -> dict:
    return {f.attname: (type(v := getattr(instance, f.attname)), v) for f in instance._meta.concrete_fields}


def orm_key(raw: str) -> ApiKey | None:
    """The query authentication ran before issue 17."""
    return (
        ApiKey.objects.select_related("user", "merchant")
        .filter(key_hash=hash_key(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_live_key_loads_as_the_orm_loaded_it_with_its_user_and_merchant():
    _, raw = api_key_create(username="shop", scopes=["refunds:read", "refunds:create"], name="Ünïcode key")
    ours, orm = api_key_authenticated(key_hash=hash_key(raw)), orm_key(raw)
    assert loaded(ours) == loaded(orm)
    with CaptureQueriesContext(connection) as queries:
        assert loaded(ours.user) == loaded(orm.user) and loaded(ours.merchant) == loaded(orm.merchant)
        assert ours.has_scope("refunds:create") and not ours.has_scope("refunds:decide")
    assert not queries.captured_queries


@pytest.mark.parametrize("supported", [True, False], ids=["one statement", "orm"])
def test_unknown_revoked_and_inactive_keys_are_refused(monkeypatch, supported):
    monkeypatch.setattr("api.auth._json_rows_supported", lambda: supported)
    key, raw = api_key_create(username="shop", scopes=["refunds:read"])
    assert bearer(raw).get("/v1/refunds/rf_unknown").status_code == 404  # authenticated
    unknown = bearer(raw + "x").get("/v1/refunds/rf_unknown")
    assert (unknown.status_code, unknown.json()["code"]) == (401, ERR_AUTHN_REQUIRED)

    get_user_model().objects.filter(pk=key.user_id).update(is_active=False)
    assert bearer(raw).get("/v1/refunds/rf_unknown").status_code == 401
    get_user_model().objects.filter(pk=key.user_id).update(is_active=True)
    assert bearer(raw).get("/v1/refunds/rf_unknown").status_code == 404

    api_key_revoke(key_ids=[key.pk], actor=agent("security"))
    assert bearer(raw).get("/v1/refunds/rf_unknown").status_code == 401
    assert api_key_authenticated(key_hash=hash_key(raw)) is None


def test_the_idempotency_record_comes_with_the_key_as_the_orm_loads_it(merchant):
    key, raw = api_key_create(username="shop", scopes=["refunds:create"])
    order = captured_order(amount_minor=10000)
    assert create(bearer(raw), order.order_id, key="rec", amount_minor=1000).status_code == 202
    found = api_key_authenticated(key_hash=hash_key(raw), idempotency_key="rec")
    looked_key, record = found._idempotency_lookup
    assert looked_key == "rec" and loaded(record) == loaded(IdempotencyRecord.objects.get(api_key=key, key="rec"))
    missing = api_key_authenticated(key_hash=hash_key(raw), idempotency_key="never-used")
    assert missing._idempotency_lookup == ("never-used", None)
    # Another key's record under the same key is not this key's.
    _, other = api_key_create(username="other-shop", scopes=["refunds:create"])
    assert api_key_authenticated(key_hash=hash_key(other), idempotency_key="rec")._idempotency_lookup[1] is None


def test_only_writes_of_views_that_answer_idempotently_look_the_record_up(merchant):
    order = captured_order(amount_minor=10000)
    with CaptureQueriesContext(connection) as read:
        merchant.get(f"/v1/orders/{order.order_id}/refunds", HTTP_IDEMPOTENCY_KEY="k")
    with CaptureQueriesContext(connection) as bad_key:
        create(merchant, order.order_id, key=" padded ")
    with CaptureQueriesContext(connection) as write:
        create(merchant, order.order_id, key="good")
    # One statement text; the key to look for is a parameter, NULL when there is none to look for.
    assert 'i."key" = NULL' in read.captured_queries[0]["sql"]
    assert 'i."key" = NULL' in bad_key.captured_queries[0]["sql"] and len(bad_key.captured_queries) == 1
    assert "i.\"key\" = 'good'" in write.captured_queries[0]["sql"]
