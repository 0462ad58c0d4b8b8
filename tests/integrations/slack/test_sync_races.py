"""Two workers syncing the same card at once never post it twice (threads against PostgreSQL, Slack simulated)."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.db import connection
from slack_sdk import WebClient

from integrations.slack import sync
from integrations.slack.client import slack_client
from integrations.slack.sync import card_sync
from tests.integrations.slack.support import CHANNEL, card_of, reviewed

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(target, results: list) -> threading.Thread:
    def run():
        try:
            results.append(target())
        finally:
            connection.close()  # each thread has its own connection to the test database

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_two_workers_started_together_post_each_card_once(slack_settings):
    sim = slack_settings
    cards = [card_of(reviewed()) for _ in range(5)]

    for card in cards:
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def worker(card_id=card.pk, barrier=barrier):
            barrier.wait(30)
            return card_sync(card_id=card_id)

        threads = [_in_thread(worker, outcomes) for _ in range(2)]
        for thread in threads:
            thread.join(60)
            assert not thread.is_alive()
        assert outcomes.count("posted") == 1, outcomes
        assert set(outcomes) - {"posted"} <= {"busy", "leased", "current"}, outcomes

    assert len(sim.messages(CHANNEL)) == 5
    assert len(sim.calls("chat.postMessage")) == 5


class Gate:
    """Holds the first chat.postMessage before it leaves, until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()
        self._taken = False
        self._lock = threading.Lock()

    def client(self) -> WebClient:
        real = slack_client()
        gate = self
        original = real.chat_postMessage

        def post(**kwargs):
            with gate._lock:
                first, gate._taken = not gate._taken, True
            if first:
                gate.entered.set()
                assert gate.open.wait(60), "the test never opened the gate"
            return original(**kwargs)

        real.chat_postMessage = post
        return real


def test_a_second_worker_leaves_a_card_another_is_posting(slack_settings):
    sim = slack_settings
    card = card_of(reviewed())
    gate = Gate()
    first: list[str] = []
    second: list[str] = []
    with mock.patch.object(sync, "slack_client", gate.client):
        # Worker A has claimed the card and is on its way to Slack ...
        worker_a = _in_thread(lambda: card_sync(card_id=card.pk), first)
        assert gate.entered.wait(60), "worker A never reached Slack"
        # ... when worker B gets the same card (a redelivered task, a sweep) and runs to the end.
        worker_b = _in_thread(lambda: card_sync(card_id=card.pk), second)
        worker_b.join(60)
        gate.open.set()
        worker_a.join(60)

    assert (first, second) == (["posted"], ["leased"])
    assert len(sim.messages(CHANNEL)) == 1


def test_a_worker_whose_lease_ran_out_deletes_its_own_second_message(slack_settings, settings):
    sim = slack_settings
    card = card_of(reviewed())
    settings.SLACK_LEASE_SECONDS = 0  # A's lease is over as soon as it is taken: B may take the card over
    gate = Gate()
    first: list[str] = []
    second: list[str] = []
    with mock.patch.object(sync, "slack_client", gate.client):
        worker_a = _in_thread(lambda: card_sync(card_id=card.pk), first)
        assert gate.entered.wait(60), "worker A never reached Slack"
        worker_b = _in_thread(lambda: card_sync(card_id=card.pk), second)
        worker_b.join(60)
        gate.open.set()
        worker_a.join(60)

    card.refresh_from_db()
    assert (first, second) == (["duplicate"], ["posted"])
    b_message, a_message = sim.messages(CHANNEL)
    assert card.ts == b_message["ts"]
    [delete] = sim.calls("chat.delete")
    assert delete["args"]["ts"] == a_message["ts"]
