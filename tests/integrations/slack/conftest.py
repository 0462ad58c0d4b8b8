"""Fixtures for the Slack interactions: hand-signed requests, the simulator wired to a live app, people, cards.

Two ways in, both real HTTP where it matters:

* `signed_post` — Django's test client with a request signed by hand (the
  signature, timestamp and replay rules, without any Slack);
* `slack_app` — the Slack simulator (`tests.support.slack_sim`) sending its
  signed clicks and submissions to the app under Django's live server, the
  app calling the simulator's Web API back with slack_sdk.

Celery is not running here: `tasks` records what the app queues
(`apply_async`) and runs it in-process on `drain()` — after the answer, as a
worker would, with Celery's own eager retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from integrations.slack.client import slack_client
from integrations.slack.decisions import process_interaction, sweep_interactions
from integrations.slack.ephemeral import post_ephemeral
from refunds.enums import Reason
from refunds.models import Refund
from tests.refunds.factories import UserFactory, captured_order, make_refund, requester
from tests.support.slack_sim import APPROVALS_CHANNEL

URL = "/integrations/slack/interactions"
SECRET = "hand-signing-secret"


def sign(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's headers for `body`: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"HTTP_X_SLACK_REQUEST_TIMESTAMP": ts, "HTTP_X_SLACK_SIGNATURE": f"v0={digest}"}


def form(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def card_click(refund: Refund, action_id: str = "approve", *, user: str = "UALICE", version: int | None = None) -> dict:
    """A block_actions payload of the card's button, as Slack sends it."""
    return {
        "type": "block_actions",
        "user": {"id": user, "team_id": "T0SIM", "username": "alice"},
        "team": {"id": "T0SIM"},
        "trigger_id": "1.2.3",
        "container": {"type": "message", "channel_id": APPROVALS_CHANNEL, "message_ts": "1700000000.000100"},
        "channel": {"id": APPROVALS_CHANNEL},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"decide:{refund.public_id}:v{refund.version if version is None else version}",
                "value": refund.public_id,
                "action_ts": str(time.time()),
            }
        ],
    }


@pytest.fixture
def slack_on(settings):
    """The integration on, with the hand-signing secret (no Slack behind it: nothing here calls it)."""
    settings.SLACK_BOT_TOKEN = "xoxb-hand"
    settings.SLACK_SIGNING_SECRET = SECRET
    settings.SLACK_API_BASE = "http://127.0.0.1:9/api/"  # discard port: a call would fail at once
    return settings


@pytest.fixture
def signed_post():
    """POST a body to the interactions URL with Django's test client, signed (or not) as asked."""
    client = Client()

    def post(body: bytes, headers: dict[str, str] | None = None, **extra: str):
        return client.post(URL, data=body, content_type="application/x-www-form-urlencoded", **(headers or {}), **extra)

    return post


class TaskQueue:
    """What the app queued with `apply_async`, run in-process on `drain()` (tasks queued meanwhile too)."""

    def __init__(self) -> None:
        self.queued: list[tuple[Any, dict[str, Any]]] = []
        self.ran: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def recorder(self, task):
        def apply_async(*, kwargs: dict[str, Any], **options: Any) -> None:
            with self._lock:
                self.queued.append((task, kwargs))

        return apply_async

    def names(self) -> list[str]:
        with self._lock:
            return [task.name for task, _ in self.queued]

    def drain(self) -> list[tuple[str, Any]]:
        ran = []
        while True:
            with self._lock:
                if not self.queued:
                    break
                task, kwargs = self.queued.pop(0)
            result = task.apply(kwargs=kwargs)
            ran.append((task.name, result.get(propagate=True)))
        self.ran += ran
        return ran


@pytest.fixture
def tasks(monkeypatch) -> TaskQueue:
    queue = TaskQueue()
    for task in (process_interaction, post_ephemeral, sweep_interactions):
        monkeypatch.setattr(task, "apply_async", queue.recorder(task))
    return queue


@pytest.fixture
def slack_app(slack_settings, live_server):
    """The simulator sending clicks and submissions to the app (Django's live server, these settings)."""
    slack_settings.configure(interactions_url=live_server.url + URL)
    return slack_settings


def person(sim, username: str, role: str | None, *, slack_id: str | None = None, **extra: Any):
    """A console user with `role` and the Slack member with the same email (users.info answers for it)."""
    user = UserFactory(username=username, role=role)
    sim.add_user(slack_id or f"U{username.upper()}", user.email, username, **extra)
    return user


def review_refund(*, amount_minor: int = 5000, order_amount: int = 100000, by=None) -> Refund:
    """Goodwill: always reviewed; above 200.00 it needs two seniors."""
    order = captured_order(amount_minor=order_amount)
    return make_refund(order=order, amount_minor=amount_minor, reason=Reason.GOODWILL, actor=by or requester())


def card_blocks(refund: Refund) -> list[dict[str, Any]]:
    """The card's blocks as the card helper draws them: the decide block `decide:{id}:v{version}` and its buttons."""
    buttons = [
        {
            "type": "button",
            "action_id": action,
            "text": {"type": "plain_text", "text": action.title()},
            "value": refund.public_id,
        }
        for action in ("approve", "edit", "decline")
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{refund.public_id}*"}},
        {"type": "actions", "block_id": f"decide:{refund.public_id}:v{refund.version}", "elements": buttons},
    ]


def post_card(refund: Refund, *, channel: str = APPROVALS_CHANNEL) -> str:
    """Post the refund's card (chat.postMessage with the bot token); its ts."""
    refund.refresh_from_db()
    answer = slack_client().chat_postMessage(
        channel=channel, text=f"Refund {refund.public_id}", blocks=card_blocks(refund)
    )
    return answer["ts"]


def redraw_card(refund: Refund, ts: str, *, channel: str = APPROVALS_CHANNEL) -> None:
    """The card updated after a change of the refund (chat.update), as the card helper does."""
    refund.refresh_from_db()
    slack_client().chat_update(channel=channel, ts=ts, text=f"Refund {refund.public_id}", blocks=card_blocks(refund))
