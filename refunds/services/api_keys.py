"""Minting API keys for merchant systems and agents' integrations."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from refunds.enums import Role, Scope
from refunds.errors import ERR_VALIDATION, DomainError
from refunds.models import ApiKey
from refunds.models.api_key import hash_key
from refunds.services.roles import roles_ensure


def api_key_create(*, username: str, scopes: list[str], role: str | None = None, name: str = "") -> tuple[ApiKey, str]:
    """Create the user if needed, give it `role`, and mint a key with `scopes`.

    Returns the stored key and the raw secret, which is never stored and
    cannot be shown again.
    """
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown or not scopes:
        raise DomainError(ERR_VALIDATION, f"Unknown or no scopes: {unknown}. Known: {', '.join(Scope.values)}")
    if role is not None and role not in Role.values:
        raise DomainError(ERR_VALIDATION, f"Unknown role '{role}'. Known: {', '.join(Role.values)}")
    with transaction.atomic():
        user, _ = get_user_model().objects.get_or_create(username=username)
        if role is not None:
            if not Group.objects.filter(name=role).exists():
                roles_ensure()
            user.groups.add(Group.objects.get(name=role))
        prefix, raw = ApiKey.generate()
        key = ApiKey.objects.create(user=user, name=name, prefix=prefix, key_hash=hash_key(raw), scopes=sorted(scopes))
    return key, raw
