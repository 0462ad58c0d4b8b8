"""API key authentication and per-view scopes (SPEC §9)."""

from __future__ import annotations

from rest_framework import authentication, exceptions, permissions

from refunds.models import ApiKey
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
        api_key = (
            ApiKey.objects.select_related("user", "merchant")
            .filter(key_hash=hash_key(raw.strip()), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


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
