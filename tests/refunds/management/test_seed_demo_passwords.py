"""Django's four password validators are on, and the demo logins the README lists still pass them."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import get_default_password_validators, validate_password
from django.core.exceptions import ValidationError

from refunds.management.commands.seed_demo import DEMO_USERS


def test_the_four_django_password_validators_are_configured():
    names = {type(validator).__name__ for validator in get_default_password_validators()}
    assert names == {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }


@pytest.mark.parametrize(("username", "label"), [(username, label) for username, _, label in DEMO_USERS])
def test_the_demo_password_passes_the_validators_for_every_demo_user(username, label):
    user = get_user_model()(username=username, first_name=label, email=f"{username}@example.com")
    validate_password("refunds-demo", user=user)


@pytest.mark.parametrize("weak", ["password1", "12345678901", "short", "senior1@example"])
def test_weak_passwords_are_refused(weak):
    user = get_user_model()(username="senior1", email="senior1@example.com")
    with pytest.raises(ValidationError):
        validate_password(weak, user=user)
