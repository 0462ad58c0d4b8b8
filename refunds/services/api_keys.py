"""Minting API keys for merchant systems and agents' integrations."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_VALIDATION, DomainError
from refunds.enums import Role, Scope
from refunds.models import ApiKey
from refunds.models.api_key import hash_key
from refunds.permissions import roles_ensure
from refunds.services.merchants import merchant_default, merchant_get


def api_key_create(
    *,
    username: str,
    scopes: list[str],
    role: str | None = None,
    merchant: str | None = None,
    name: str = "",
    actor: Actor | None = None,
) -> tuple[ApiKey, str]:
    """Create the user if needed, give it `role`, and mint a key with `scopes` for `merchant`.

    `merchant` is a merchant's slug; without one the key belongs to the
    default merchant. A user's keys all belong to one merchant: a key for
    another merchant needs another user, so no identity ever spans two tenants.
    Returns the stored key and the raw secret, which is never stored and
    cannot be shown again. Audited as `api_key.created` (prefix, user,
    merchant, scopes; never the secret).
    """
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown or not scopes:
        raise DomainError(ERR_VALIDATION, f"Unknown or no scopes: {unknown}. Known: {', '.join(Scope.values)}")
    if role is not None and role not in Role.values:
        raise DomainError(ERR_VALIDATION, f"Unknown role '{role}'. Known: {', '.join(Role.values)}")
    tenant = merchant_get(slug=merchant) if merchant is not None else merchant_default()
    with transaction.atomic():
        user, _ = get_user_model().objects.get_or_create(username=username)
        other = ApiKey.objects.filter(user=user).exclude(merchant=tenant).select_related("merchant").first()
        if other is not None:
            raise DomainError(
                ERR_VALIDATION,
                f"User '{username}' holds keys of merchant '{other.merchant.slug}'; "
                f"mint keys for '{tenant.slug}' for another user.",
                field="merchant",
            )
        if role is not None:
            if not Group.objects.filter(name=role).exists():
                roles_ensure()
            user.groups.add(Group.objects.get(name=role))
        prefix, raw = ApiKey.generate()
        key = ApiKey.objects.create(
            user=user, merchant=tenant, name=name, prefix=prefix, key_hash=hash_key(raw), scopes=sorted(scopes)
        )
        audit_record(
            actor=actor or Actor.system("manage.py create_api_key"),
            action=AuditAction.API_KEY_CREATED,
            subject=f"api key {prefix}",
            note=f"for {username}"
            + (f" (role {role})" if role else "")
            + f"; merchant {tenant.slug}; scopes {', '.join(key.scopes)}",
        )
    return key, raw


def api_key_revoke(*, key_ids: list[int], actor: Actor) -> int:
    """Revoke keys at once (the next request with one is refused); returns how many were still live.

    Side effects, in one transaction: revoked_at on each live key, an
    `api_key.revoked` audit event each. Already revoked keys are left as they are.
    """
    now = timezone.now()
    with transaction.atomic():
        keys = list(ApiKey.objects.select_for_update().filter(pk__in=key_ids, revoked_at__isnull=True).order_by("pk"))
        for key in keys:
            key.revoked_at = now
            key.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor, action=AuditAction.API_KEY_REVOKED, subject=f"api key {key.prefix}", note=key.name
            )
    return len(keys)
