"""seed_demo: only with DEBUG=1 (issue 10, item 11); its logins fit separation of duties."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from refunds.enums import Role
from refunds.models import ApiKey
from refunds.permissions import Perm, administers_access, has_perm

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_no_superuser_and_a_separate_access_admin(settings):
    settings.DEBUG = True
    call_command("seed_demo", password="Demo-pass-5150", stdout=io.StringIO())
    users = {user.username: user for user in get_user_model().objects.all()}
    assert not any(user.is_superuser for user in users.values())
    access = users["access"]
    assert access.groups.filter(name=Role.ACCESS_ADMIN).exists()
    assert administers_access(access) and not has_perm(access, Perm.DECIDE)
    for name in ("admin", "senior1", "senior2", "agent", "finance", "risk"):
        assert not administers_access(users[name]), name
    assert has_perm(users["admin"], Perm.APPROVE_SENIOR)


def test_seed_demo_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("seed_demo")
    assert not get_user_model().objects.filter(username__in=["agent", "senior1", "admin"]).exists()
    assert not ApiKey.objects.exists()
