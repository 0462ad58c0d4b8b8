"""`seed_demo` makes users with a published password and a merchant key: never outside the demo (issue 10, item 11)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from refunds.models import ApiKey


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("seed_demo")
    assert not get_user_model().objects.filter(username__in=["agent", "senior1", "admin"]).exists()
    assert not ApiKey.objects.exists()
