"""Onboarding a merchant from the shell: `create_merchant`, then `create_api_key --merchant` (docs/operations.md)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from refunds.models import ApiKey, Merchant

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_merchant_then_a_key_for_it_with_a_role():
    assert _run("create_merchant", "acme-shop", "--name", "Acme Shop") == "Merchant acme-shop created (Acme Shop).\n"
    raw = _run(
        "create_api_key",
        "acme-system",
        "--scopes",
        "orders:write,refunds:read",
        "--role",
        "agent",
        "--merchant",
        "acme-shop",
    ).strip()
    key = ApiKey.objects.select_related("merchant", "user").get()
    assert raw.startswith(f"rdk_{key.prefix}_")
    assert key.merchant.name == "Acme Shop"
    assert list(key.user.groups.values_list("name", flat=True)) == ["agent"]
    assert AuditEvent.objects.get(action="merchant.created").subject == "merchant acme-shop"


def test_create_api_key_without_merchant_mints_for_the_default_merchant():
    _run("create_api_key", "shop", "--scopes", "refunds:read")
    assert ApiKey.objects.get().merchant.slug == "default"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create_api_key", "shop", "--scopes", "refunds:read", "--merchant", "nope"), "Unknown merchant 'nope'"),
        (("create_api_key", "shop", "--scopes", "refunds:read", "--role", "boss"), "Unknown role 'boss'"),
        (("create_merchant", "default"), "A merchant 'default' exists already."),
        (("create_merchant", "Acme Shop"), "A merchant slug is 1–50 lower-case letters, digits or hyphens."),
    ],
)
def test_mistakes_are_refused_with_a_clear_error(args, message):
    with pytest.raises(CommandError, match=message):
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    assert not ApiKey.objects.exists()
    assert Merchant.objects.count() == 1
