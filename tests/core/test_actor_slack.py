"""A Slack actor's label names the console user and the Slack account, within the audit trail's 150 characters."""

from __future__ import annotations

from types import SimpleNamespace

from core.actor import LABEL_MAX, Actor


def user(name: str) -> SimpleNamespace:
    return SimpleNamespace(get_username=lambda: name)


def test_the_label_names_the_slack_account():
    actor = Actor.for_slack_user(user("alice"), "U0ALICE")
    assert (actor.label, actor.channel, actor.type) == ("alice (Slack U0ALICE)", "slack", "user")


def test_a_long_username_is_clipped_never_the_slack_id():
    actor = Actor.for_slack_user(user("a" * 150), "U0ALICE")
    assert len(actor.label) == LABEL_MAX == 150
    assert actor.label.endswith(" (Slack U0ALICE)")
