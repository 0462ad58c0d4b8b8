"""API key authentication and per-view scopes (SPEC §9)."""

from __future__ import annotations

import json
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connections, router
from rest_framework import authentication, exceptions, permissions

from api.idempotency import lookup_key, remember_lookup
from api.models import IdempotencyRecord
from core import jsonrows
from refunds.models import ApiKey, Merchant
from refunds.models.api_key import hash_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>`; the key is looked up by its SHA-256 digest."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme != self.keyword or not raw.strip():
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        api_key = api_key_authenticated(key_hash=hash_key(raw.strip()), idempotency_key=lookup_key(request))
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


def api_key_authenticated(*, key_hash: str, idempotency_key: str | None = None) -> ApiKey | None:
    """The live key with this digest (not revoked, its user active), with its user and merchant; else None.

    With `idempotency_key`, the key's record for it is looked up in the same
    statement and kept on the key (`api.idempotency.run_idempotent` reads
    it): a write's idempotency costs no statement of its own before it runs.
    One statement on PostgreSQL, without compiling a query per request; the
    ORM elsewhere (the demo's SQLite), the record then looked up apart.
    """
    alias = router.db_for_read(ApiKey)
    if connections[alias].vendor != "postgresql" or not _json_rows_supported():
        return (
            ApiKey.objects.select_related("user", "merchant")
            .filter(key_hash=key_hash, revoked_at__isnull=True, user__is_active=True)
            .first()
        )
    with connections[alias].cursor() as cursor:
        cursor.execute(_authentication_sql(), [idempotency_key, key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    found = json.loads(row[0])
    api_key = jsonrows.instance_from_json(ApiKey, found["api_key"], using=alias)
    # As select_related sets them.
    user = jsonrows.instance_from_json(get_user_model(), found["user"], using=alias)
    ApiKey.user.field.set_cached_value(api_key, user)
    merchant = jsonrows.instance_from_json(Merchant, found["merchant"], using=alias)
    ApiKey.merchant.field.set_cached_value(api_key, merchant)
    if idempotency_key is not None:
        record = found["idempotency"]
        if record is not None:
            record = jsonrows.instance_from_json(IdempotencyRecord, record, using=alias)
            IdempotencyRecord.api_key.field.set_cached_value(record, api_key)
        remember_lookup(api_key, idempotency_key, record)
    return api_key


@cache
def _json_rows_supported() -> bool:
    return jsonrows.supported(ApiKey, get_user_model(), Merchant, IdempotencyRecord)


@cache
def _authentication_sql() -> str:
    """What the ORM query asked (`select_related("user", "merchant")`, `.first()`), and the key's record."""
    user, col, table = get_user_model(), jsonrows.column, jsonrows.table
    return f"""
        SELECT jsonb_build_object(
            'api_key', to_jsonb(k),
            'user', to_jsonb(u),
            'merchant', to_jsonb(m),
            'idempotency', (
                SELECT to_jsonb(i) FROM {table(IdempotencyRecord)} i
                WHERE i.{col(IdempotencyRecord, "api_key")} = k.{col(ApiKey, "pk")}
                  AND i.{col(IdempotencyRecord, "key")} = %s
            )
        )::text
        FROM {table(ApiKey)} k
        JOIN {table(user)} u ON u.{col(user, "pk")} = k.{col(ApiKey, "user")}
        JOIN {table(Merchant)} m ON m.{col(Merchant, "pk")} = k.{col(ApiKey, "merchant")}
        WHERE k.{col(ApiKey, "key_hash")} = %s
          AND k.{col(ApiKey, "revoked_at")} IS NULL
          AND u.{col(user, "is_active")}
        ORDER BY k.{col(ApiKey, "pk")}
        LIMIT 1
    """  # noqa: S608 - names come from model metadata, values are parameters


class HasScope(permissions.BasePermission):
    """Each view names the scope it needs in `required_scope`."""

    def has_permission(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            raise exceptions.NotAuthenticated()
        required = getattr(view, "required_scope", None)
        if required is None:
            return False
        if not api_key.has_scope(required):
            raise exceptions.PermissionDenied(f"This API key lacks the '{required}' scope.")
        return True
