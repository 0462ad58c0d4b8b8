"""A card whose channel is gone for us, or no longer the configured one, moves to SLACK_APPROVALS_CHANNEL.

Before: `channel_not_found` / `is_archived` / `not_in_channel` on chat.update
was retried at the backoff cap for ever, and after SLACK_APPROVALS_CHANNEL
changed the cards stayed live in the old channel. Now a fresh card is posted
in the configured channel (its channel and ts stored) and the old message,
where it still exists, becomes one line saying where the card went.
"""

from __future__ import annotations

import pytest

from integrations.slack.sync import card_sync
from refunds.services.decide import refund_deny, refund_edit
from tests.integrations.slack.support import CHANNEL, actions, all_text, card_of, reviewed, wait_until_due
from tests.refunds.factories import agent

pytestmark = pytest.mark.django_db
NEW_CHANNEL = "C0NEWAPPROVALS"


@pytest.fixture
def fast_backoff(settings):
    settings.SLACK_BACKOFF_BASE_SECONDS = 0.2
    settings.SLACK_BACKOFF_MAX_SECONDS = 0.4


def posted_card(sim):
    refund = reviewed()
    card = card_of(refund)
    assert card_sync(card_id=card.pk) == "posted"
    card.refresh_from_db()
    return refund, card


def test_after_the_approvals_channel_changes_the_next_sync_moves_the_card(slack_settings, settings):
    sim = slack_settings
    refund, card = posted_card(sim)
    old_ts = card.ts
    settings.SLACK_APPROVALS_CHANNEL = NEW_CHANNEL

    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=3000)
    assert card_sync(card_id=card.pk) == "moved"

    card.refresh_from_db()
    [new] = sim.messages(NEW_CHANNEL)
    assert (card.channel, card.ts) == (NEW_CHANNEL, new["ts"]) and card.last_error == ""
    assert not card.behind
    assert "30.00 USD" in all_text(new["blocks"]) and actions(new["blocks"])  # the live card, with its buttons
    [old] = sim.messages(CHANNEL)
    assert old["ts"] == old_ts and actions(old["blocks"]) == []
    assert old["text"] == f"Refund {refund.public_id} moved to <#{NEW_CHANNEL}>."
    # Later changes update the moved card, in place.
    refund_deny(refund_id=refund.pk, actor=agent("decliner"), note="Signed for.")
    assert card_sync(card_id=card.pk) == "updated"
    assert len(sim.messages(NEW_CHANNEL)) == 1 and len(sim.calls("chat.postMessage")) == 2


def test_a_move_whose_old_message_cannot_be_marked_still_moves(slack_settings, settings):
    sim = slack_settings
    refund, card = posted_card(sim)
    settings.SLACK_APPROVALS_CHANNEL = NEW_CHANNEL
    sim.fault("chat.update", 200, error="is_archived")  # the old channel was archived

    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=3000)
    assert card_sync(card_id=card.pk) == "moved"

    card.refresh_from_db()
    [new] = sim.messages(NEW_CHANNEL)
    assert (card.channel, card.ts, card.last_error) == (NEW_CHANNEL, new["ts"], "")
    assert [c["error"] for c in sim.calls("chat.update")] == ["is_archived"]  # tried once, not again


def test_a_channel_setting_given_as_a_name_does_not_move_cards_on_every_change(slack_settings, settings):
    sim = slack_settings
    refund, card = posted_card(sim)
    settings.SLACK_APPROVALS_CHANNEL = "#refund-approvals"  # Slack answers ids; a name cannot be compared

    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=3000)
    assert card_sync(card_id=card.pk) == "updated"
    assert len(sim.calls("chat.postMessage")) == 1


@pytest.mark.parametrize("code", ["channel_not_found", "is_archived", "not_in_channel"])
def test_an_update_refused_for_the_channel_posts_a_fresh_card_instead_of_retrying_for_ever(slack_settings, code):
    sim = slack_settings
    refund, card = posted_card(sim)
    old_ts = card.ts
    sim.fault("chat.update", 200, error=code)

    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=3000)
    assert card_sync(card_id=card.pk) == "reposted"

    card.refresh_from_db()
    fresh = [m for m in sim.messages(CHANNEL) if m["ts"] != old_ts]
    assert [m["ts"] for m in fresh] == [card.ts] and card.last_error == "" and not card.behind
    assert "30.00 USD" in all_text(fresh[0]["blocks"])


def test_a_post_refused_in_the_configured_channel_stays_the_slow_retry(slack_settings, settings, fast_backoff):
    sim = slack_settings
    refund, card = posted_card(sim)
    sim.fault("chat.update", 200, error="is_archived")
    sim.fault("chat.postMessage", 200, error="is_archived")

    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=3000)
    assert card_sync(card_id=card.pk) == "refused"

    card.refresh_from_db()
    assert card.last_error == "is_archived" and card.behind
    assert (card.available_at - card.updated_at).total_seconds() >= settings.SLACK_BACKOFF_MAX_SECONDS - 0.01
    # Unarchived (the faults are spent): the next try brings the card back.
    wait_until_due(card)
    assert card_sync(card_id=card.pk) == "updated"


def test_a_database_failure_after_the_move_records_it_and_marks_the_old_message_once(slack_settings, settings):
    from unittest import mock

    from django.db import OperationalError

    from integrations.slack import sync

    sim = slack_settings
    refund, card = posted_card(sim)
    settings.SLACK_APPROVALS_CHANNEL = NEW_CHANNEL
    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=3000)
    real, failures = sync._record_synced, []

    def fail_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    with mock.patch.object(sync, "_record_synced", side_effect=fail_once):
        assert sync.sync_card.apply(kwargs={"card_id": card.pk}).get() == "moved"

    card.refresh_from_db()
    [new] = sim.messages(NEW_CHANNEL)
    assert failures == [1] and (card.channel, card.ts) == (NEW_CHANNEL, new["ts"])
    assert len(sim.calls("chat.postMessage")) == 2  # the first card, and the moved one: never twice
    [old] = sim.messages(CHANNEL)
    assert actions(old["blocks"]) == [] and "moved to" in old["text"]
