"""Who is tapping: a Slack member maps to exactly one active console user by the confirmed email of our workspace.

Against the Slack simulator's users.info and auth.test. The attacks come
first: a guest, a member of another workspace (a Slack Connect channel), a
bot, a deleted account or an unconfirmed email naming a senior's address
must never become that senior.
"""

from __future__ import annotations

import pytest

from integrations.slack import users
from integrations.slack.users import SlackUnavailable, slack_console_user
from refunds.enums import Role
from tests.refunds.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def senior():
    return UserFactory(username="sam", email="sam@example.com", role=Role.SENIOR_AGENT)


def users_info_calls(sim) -> int:
    return len(sim.calls("users.info"))


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        pytest.param({"is_restricted": True}, users.GUEST, id="multi-channel-guest"),
        pytest.param({"is_ultra_restricted": True}, users.GUEST, id="single-channel-guest"),
        pytest.param({"team_id": "T0OTHER"}, users.OTHER_WORKSPACE, id="another-workspace"),
        pytest.param({"is_bot": True}, users.BOT, id="bot"),
        pytest.param({"deleted": True}, users.DELETED, id="deleted"),
        pytest.param({"is_email_confirmed": False}, users.EMAIL_UNCONFIRMED, id="email-unconfirmed"),
    ],
)
def test_a_slack_account_that_may_not_speak_for_anyone_is_not_the_senior_whose_email_it_shows(
    slack_settings, senior, flags, why
):
    slack_settings.add_user("UMALLORY", "SAM@example.com", "mallory", **flags)
    found = slack_console_user("UMALLORY")
    assert found.user is None
    assert found.why == why


def test_a_member_of_our_workspace_maps_to_the_console_user_with_that_email_case_ignored(slack_settings, senior):
    slack_settings.add_user("USAM", "Sam@Example.COM", "sam")
    assert slack_console_user("USAM").user == senior


def test_nobody_with_that_email_is_not_mapped(slack_settings):
    slack_settings.add_user("UNEW", "new@example.com", "new")
    found = slack_console_user("UNEW")
    assert (found.user, found.why) == (None, users.NOT_MAPPED)


def test_an_unknown_slack_user_is_not_mapped(slack_settings):
    assert slack_console_user("UNOBODY").why == users.NOT_MAPPED


def test_two_active_console_users_with_the_email_are_ambiguous(slack_settings, senior):
    UserFactory(username="sam2", email="SAM@example.com", role=Role.AGENT)
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    assert slack_console_user("USAM").why == users.AMBIGUOUS


def test_an_inactive_twin_does_not_make_it_ambiguous(slack_settings, senior):
    twin = UserFactory(username="sam-old", email="sam@example.com")
    twin.is_active = False
    twin.save()
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    assert slack_console_user("USAM").user == senior


def test_a_deactivated_console_user_is_told_so(slack_settings, senior):
    senior.is_active = False
    senior.save()
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    assert slack_console_user("USAM").why == users.INACTIVE


def test_the_mapping_is_cached_so_a_tap_costs_no_slack_call(slack_settings, senior):
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    assert slack_console_user("USAM").user == senior
    calls = users_info_calls(slack_settings)
    assert slack_console_user("USAM").user == senior
    assert users_info_calls(slack_settings) == calls


def test_a_senior_deactivated_after_being_cached_stops_at_once(slack_settings, senior):
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    assert slack_console_user("USAM").user == senior
    senior.is_active = False
    senior.save()
    assert slack_console_user("USAM").why == users.INACTIVE


def test_a_console_email_changed_after_caching_is_looked_up_again(slack_settings, senior):
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    assert slack_console_user("USAM").user == senior
    senior.email = "samuel@example.com"
    senior.save()
    assert slack_console_user("USAM").why == users.NOT_MAPPED


def test_a_second_user_given_the_cached_email_makes_it_ambiguous_at_once(slack_settings, senior):
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    assert slack_console_user("USAM").user == senior
    UserFactory(username="sam-twin", email="sam@example.com", role=Role.SENIOR_AGENT)
    assert slack_console_user("USAM").why == users.AMBIGUOUS


def test_refusals_are_not_cached_so_a_fixed_email_works_on_the_next_tap(slack_settings):
    slack_settings.add_user("UNEW", "new@example.com", "new")
    assert slack_console_user("UNEW").user is None
    newcomer = UserFactory(username="new", email="new@example.com", role=Role.AGENT)
    assert slack_console_user("UNEW").user == newcomer


def test_another_bot_token_is_another_workspace_and_another_cache(slack_settings, senior, settings):
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    assert slack_console_user("USAM").user == senior
    settings.SLACK_BOT_TOKEN = "xoxb-another-workspace"
    with pytest.raises(SlackUnavailable):
        slack_console_user("USAM")  # the simulator refuses the unknown token: nothing cached answers for it


def test_slack_down_is_unavailable_never_a_refusal(slack_settings, senior):
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    slack_settings.fault("users.info", 503)
    with pytest.raises(SlackUnavailable):
        slack_console_user("USAM")


def test_rate_limited_carries_slacks_retry_after(slack_settings, senior):
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    slack_settings.fault("users.info", 429, retry_after=7)
    with pytest.raises(SlackUnavailable) as raised:
        slack_console_user("USAM")
    assert raised.value.retry_after == 7


def test_our_workspace_is_auth_tests_team_and_is_cached(slack_settings, senior):
    slack_settings.add_user("USAM", "sam@example.com", "sam")
    slack_settings.add_user("UOTHER", "other@example.com", "other")
    slack_console_user("USAM")
    slack_console_user("UOTHER")
    assert len(slack_settings.calls("auth.test")) == 1
