"""The card outbox against the Slack simulator over HTTP (integrations.slack.sync).

The sync runs in this process (the task's function); Slack is the simulator,
a real HTTP server in its own process. Its call log (`calls()`) is what
says when the app called and with what.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from integrations.models import SlackCard
from integrations.slack.sync import card_sweep, card_sync
from refunds.enums import Role
from refunds.services.decide import refund_approve, refund_deny, refund_edit
from tests.integrations.slack.support import (
    CHANNEL,
    actions,
    all_text,
    card_of,
    reviewed,
    slack_actor,
    wait_until_due,
)
from tests.refunds.factories import agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_backoff(settings):
    settings.SLACK_BACKOFF_BASE_SECONDS = 0.2
    settings.SLACK_BACKOFF_MAX_SECONDS = 0.4


def test_a_card_is_posted_once_with_its_channel_and_ts_stored(slack_settings):
    sim = slack_settings
    refund = reviewed()
    card = card_of(refund)

    assert card_sync(card_id=card.pk) == "posted"
    assert card_sync(card_id=card.pk) == "current"

    card.refresh_from_db()
    [message] = sim.messages(CHANNEL)
    assert (card.channel, card.ts) == (CHANNEL, message["ts"])
    assert card.posted_at is not None and (card.posted_revision, card.wanted_revision) == (1, 1)
    assert actions(message["blocks"])[0]["block_id"] == f"decide:{refund.public_id}:v{refund.version}"
    assert len(sim.calls("chat.postMessage")) == 1


def test_a_console_decision_updates_the_same_message(slack_settings):
    sim = slack_settings
    refund = reviewed()
    card = card_of(refund)
    card_sync(card_id=card.pk)

    refund_deny(refund_id=refund.pk, actor=agent("decliner"), note="The parcel was signed for.", rationale="abuse")
    assert card_sync(card_id=card.pk) == "updated"

    [message] = sim.messages(CHANNEL)
    card.refresh_from_db()
    assert message["ts"] == card.ts and message["updates"] == 1
    assert actions(message["blocks"]) == []
    shown = all_text(message["blocks"])
    assert "*Declined* by decliner at " in shown and "The parcel was signed for." in shown
    assert "abuse" not in shown
    assert (card.posted_revision, card.wanted_revision) == (2, 2)


def test_several_changes_between_two_syncs_cost_one_update(slack_settings):
    sim = slack_settings
    refund = reviewed(amount_minor=25000, order_amount=100000)
    card = card_of(refund)
    card_sync(card_id=card.pk)

    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=24000)
    refund_approve(refund_id=refund.pk, actor=slack_actor("senior-one", Role.SENIOR_AGENT))
    refund_approve(refund_id=refund.pk, actor=agent("senior-two", Role.SENIOR_AGENT))
    assert card_sync(card_id=card.pk) == "updated"
    assert card_sync(card_id=card.pk) == "current"

    [message] = sim.messages(CHANNEL)
    assert message["updates"] == 1
    assert "*Approved* by senior-one (Slack USENIORONE) and senior-two at " in all_text(message["blocks"])
    assert len(sim.calls("chat.update")) == 1


def test_a_429_is_waited_out_exactly_as_retry_after_says(slack_settings):
    sim = slack_settings
    card = card_of(reviewed())
    sim.fault("chat.postMessage", 429, count=1, retry_after=2)

    assert card_sync(card_id=card.pk) == "ratelimited"
    card.refresh_from_db()
    assert card.attempts == 0 and "Retry-After 2" in card.last_error
    # Asked again before Retry-After ran out: Slack is not called.
    assert card_sync(card_id=card.pk) == "not_due"
    assert len(sim.calls("chat.postMessage")) == 1

    wait_until_due(card)
    assert card_sync(card_id=card.pk) == "posted"

    first, second = sim.calls("chat.postMessage")
    assert (first["status"], second["status"]) == (429, 200)
    assert second["time"] - first["time"] >= 2
    card.refresh_from_db()
    assert card.last_error == "" and len(sim.messages(CHANNEL)) == 1


def test_5xx_backs_off_then_succeeds(slack_settings, fast_backoff):
    sim = slack_settings
    card = card_of(reviewed())
    sim.fault("chat.postMessage", 503, count=2)

    assert card_sync(card_id=card.pk) == "retry"
    card.refresh_from_db()
    assert card.attempts == 1 and "503" in card.last_error
    assert card_sync(card_id=card.pk) == "not_due"
    wait_until_due(card)
    assert card_sync(card_id=card.pk) == "retry"
    card.refresh_from_db()
    assert card.attempts == 2
    wait_until_due(card)
    assert card_sync(card_id=card.pk) == "posted"

    card.refresh_from_db()
    assert (card.attempts, card.last_error, card.posted_revision) == (0, "", 1)
    assert [c["status"] for c in sim.calls("chat.postMessage")] == [503, 503, 200]
    assert len(sim.messages(CHANNEL)) == 1


def test_a_refusal_is_kept_and_retried_slowly_so_fixing_the_config_recovers(slack_settings, settings, fast_backoff):
    sim = slack_settings
    card = card_of(reviewed())
    settings.SLACK_BOT_TOKEN = "xoxb-revoked"

    assert card_sync(card_id=card.pk) == "refused"
    card.refresh_from_db()
    assert card.last_error == "invalid_auth" and card.behind
    assert (card.available_at - card.updated_at).total_seconds() >= settings.SLACK_BACKOFF_MAX_SECONDS - 0.01

    settings.SLACK_BOT_TOKEN = sim.token  # the fix
    wait_until_due(card)
    assert card_sync(card_id=card.pk) == "posted"
    assert len(sim.messages(CHANNEL)) == 1


def _outage_then_decisions(sim, *, stop: bool):
    """Three posted cards; Slack goes away; each refund is decided; every sync fails meanwhile."""
    refunds = [reviewed(), reviewed(), reviewed()]
    cards = [card_of(r) for r in refunds]
    for card in cards:
        assert card_sync(card_id=card.pk) == "posted"
    if stop:
        sim.stop()
    else:
        sim.fault("*", 503, count=1000)
    # A decision never waits for Slack, nor fails with it.
    refund_deny(refund_id=refunds[0].pk, actor=agent("decliner"), note="Signed for.")
    refund_approve(refund_id=refunds[1].pk, actor=agent("approver"))
    refund_edit(refund_id=refunds[2].pk, actor=agent("editor"), amount_minor=3000)
    refund_approve(refund_id=refunds[2].pk, actor=slack_actor("approver-two"))
    for card in cards:
        assert card_sync(card_id=card.pk) == "retry"
    return refunds, cards


def _catch_up(cards: list[SlackCard]) -> list[str]:
    """The tasks queued meanwhile are lost with the worker; once due, the sweeper queues one per card."""
    for card in cards:
        wait_until_due(card)
    swept = card_sweep()
    assert sorted(swept) == sorted(c.pk for c in cards)
    return [card_sync(card_id=card_id) for card_id in swept]


def _assert_final(sim, refunds, cards):
    messages = {m["ts"]: m for m in sim.messages(CHANNEL)}
    assert len(messages) == len(refunds)
    expected = [
        "*Declined* by decliner at ",
        "*Approved* by approver at ",
        "*Approved* by approver-two (Slack UAPPROVERTWO) at ",
    ]
    for card, line in zip(cards, expected, strict=True):
        card.refresh_from_db()
        assert not card.behind and card.last_error == ""
        shown = all_text(messages[card.ts]["blocks"])
        assert line in shown and actions(messages[card.ts]["blocks"]) == []
    assert "30.00 USD" in all_text(messages[cards[2].ts]["blocks"])


def test_after_an_outage_of_5xx_every_card_catches_up_with_one_update(slack_settings, settings, fast_backoff):
    sim = slack_settings
    settings.SLACK_QUEUED_TTL_SECONDS = 0
    refunds, cards = _outage_then_decisions(sim, stop=False)
    sim.clear_faults()

    assert _catch_up(cards) == ["updated"] * 3

    _assert_final(sim, refunds, cards)
    assert all(m["updates"] == 1 for m in sim.messages(CHANNEL))
    assert not card_sweep()  # nothing left behind


def test_after_slack_was_down_every_card_catches_up(slack_settings, settings, fast_backoff):
    sim = slack_settings
    settings.SLACK_QUEUED_TTL_SECONDS = 0
    refunds, cards = _outage_then_decisions(sim, stop=True)
    sim.start()  # same port, but the simulator kept nothing: every message is gone

    assert _catch_up(cards) == ["reposted"] * 3

    _assert_final(sim, refunds, cards)
    assert [c["method"] for c in sim.calls()] == ["chat.update", "chat.postMessage"] * 3


def test_the_sweeper_leaves_a_card_whose_task_is_queued(slack_settings):
    card = card_of(reviewed())  # its task queued on commit: marked until it should have started

    assert card_sweep() == []

    SlackCard.objects.filter(pk=card.pk).update(queued_until=datetime(2020, 1, 1, tzinfo=card.available_at.tzinfo))
    assert card_sweep() == [card.pk]
    assert card_sweep() == []  # marked again by that sweep


def test_the_sweeper_does_nothing_when_the_integration_is_off(settings):
    settings.SLACK_BOT_TOKEN = "xoxb-x"
    settings.SLACK_APPROVALS_CHANNEL = CHANNEL
    card = card_of(reviewed())
    SlackCard.objects.filter(pk=card.pk).update(queued_until=None)
    settings.SLACK_BOT_TOKEN = ""

    assert card_sweep() == []


def test_the_tasks_are_registered_routed_to_the_slack_queue_and_swept_by_beat(settings):
    from config.celery import app
    from integrations.slack.sync import sweep_cards, sync_card

    entry = settings.CELERY_BEAT_SCHEDULE["sweep-slack-cards"]
    assert entry == {"task": sweep_cards.name, "schedule": settings.SLACK_SWEEP_SECONDS}
    assert {sync_card.name, sweep_cards.name} <= set(app.tasks)
    for task in (sync_card, sweep_cards):
        assert app.amqp.router.route({}, task.name)["queue"].name == settings.CELERY_SLACK_QUEUE


def test_the_task_posts_the_card_and_does_nothing_once_slack_is_off(slack_settings, settings):
    from integrations.slack.sync import sync_card

    card = card_of(reviewed())

    assert sync_card.apply(kwargs={"card_id": card.pk}).get() == "posted"
    settings.SLACK_BOT_TOKEN = ""
    refund_deny(refund_id=card.refund_id, actor=agent("decliner"), note="No.")
    assert sync_card.apply(kwargs={"card_id": card.pk}).get() == "off"
    assert len(slack_settings.calls()) == 1


def test_metrics_count_the_calls_and_the_cards_behind(slack_settings):
    from core.metrics import scrape

    card = card_of(reviewed())
    assert "slack_cards_behind 1.0" in scrape().decode()

    card_sync(card_id=card.pk)

    text = scrape().decode()
    assert "slack_cards_behind 0.0" in text
    assert 'slack_card_calls_total{method="chat.postMessage",outcome="ok"}' in text


def test_a_database_failure_after_slack_took_the_card_retries_the_record_not_the_post(slack_settings):
    from unittest import mock

    from django.db import OperationalError

    from integrations.slack import sync

    sim = slack_settings
    card = card_of(reviewed())
    real = sync._record_synced
    failures = []

    def fail_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    with mock.patch.object(sync, "_record_synced", side_effect=fail_once):
        assert sync.sync_card.apply(kwargs={"card_id": card.pk}).get() == "posted"

    card.refresh_from_db()
    [message] = sim.messages(CHANNEL)
    assert failures == [1] and card.ts == message["ts"] and card.lease_expires_at is None
    assert len(sim.calls("chat.postMessage")) == 1


def test_the_card_is_posted_without_unfurling_links_or_media(slack_settings):
    sim = slack_settings
    card = card_of(reviewed())

    assert card_sync(card_id=card.pk) == "posted"

    [call] = sim.calls("chat.postMessage")
    assert (call["args"]["unfurl_links"], call["args"]["unfurl_media"]) == (False, False)
