"""Refunds that wait for a person, and readers of a card's blocks, for the Slack card tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from core.actor import Actor
from integrations.models import SlackCard
from refunds.enums import Reason, Role
from refunds.models import Refund
from tests.refunds.factories import UserFactory, make_refund
from tests.support.customer_states import customer_order

CHANNEL = "C0APPROVALS"


def reviewed(*, amount_minor: int = 4250, order_amount: int = 10000, **order_fields: Any) -> Refund:
    """A goodwill refund, which the policy always leaves to a person: two approvals above the threshold."""
    order = customer_order(amount_minor=order_amount, **order_fields)
    return make_refund(order=order, amount_minor=amount_minor, reason=Reason.GOODWILL)


def slack_actor(username: str, role: str = Role.AGENT) -> Actor:
    """A console user acting from Slack, as the interactions helper resolves them."""
    return Actor.for_slack_user(UserFactory(username=username, role=role), f"U{username.upper().replace('-', '')}")


def card_of(refund: Refund) -> SlackCard:
    return SlackCard.objects.get(refund=refund)


def all_text(blocks: Any) -> str:
    """Every string in the blocks, one per line, for "shows" / "never shows" assertions."""
    if isinstance(blocks, str):
        return blocks
    if isinstance(blocks, dict):
        blocks = list(blocks.values())
    if isinstance(blocks, list):
        return "\n".join(all_text(item) for item in blocks)
    return ""


def actions(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if b["type"] == "actions"]


def wait_until_due(card: SlackCard, *, limit: float = 30.0) -> None:
    """Wait, on the clock the app reads, until the card's `available_at` (a Retry-After, a backoff) has passed."""
    card.refresh_from_db()
    deadline = time.monotonic() + limit
    while timezone.now() < card.available_at:
        assert time.monotonic() < deadline, f"the card is not due within {limit}s: {card.available_at}"
        time.sleep(0.05)


def wait_for(condition: Callable[[], bool], *, limit: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {limit}s"
        time.sleep(0.05)
