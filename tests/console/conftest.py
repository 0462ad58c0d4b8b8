"""Fixtures for the agent console: signed-in clients per role and refunds waiting for review."""

from __future__ import annotations

import pytest
from django.test import Client

from refunds.enums import Reason, Role
from tests.refunds.factories import UserFactory, captured_order, make_refund, requester


@pytest.fixture
def login(db):
    """A Django test client signed in as a new user with `role` (None: no role at all)."""

    def make(username: str = "agent", role: str | None = Role.AGENT, **client_kwargs) -> Client:
        user = UserFactory(username=username, role=role)
        client = Client(**client_kwargs)
        client.force_login(user)
        client.user = user
        return client

    return make


@pytest.fixture
def agent_client(login) -> Client:
    return login("agent", Role.AGENT)


def review_refund(*, amount_minor: int = 5000, reason: str = Reason.GOODWILL, order_amount: int = 100000, by=None):
    """A refund the policy sends to review (goodwill is always reviewed; > 200.00 needs two seniors)."""
    order = captured_order(amount_minor=order_amount)
    return make_refund(order=order, amount_minor=amount_minor, reason=reason, actor=by or requester())


def htmx_headers(target: str) -> dict[str, str]:
    return {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": target}


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path) -> None:
    """Evidence files go to a per-test directory, never to var/private."""
    settings.MEDIA_ROOT = tmp_path / "private"
