"""Slack's side of a person is read afresh for every approval decided in Celery, and briefly cached for modals.

The attack: a Slack account turned guest, deactivated, moved to another
workspace, or whose email changed, kept approving for an hour on the cached
mapping. Now the Approve task asks users.info every time; the modal taps
use a mapping only while younger than SLACK_USER_CACHE_SECONDS (60 s by
default), whatever expiry it was stored with. The Slack account's id is in
the audit trail of every decision.
"""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.core.cache import cache

from audit.models import AuditEvent
from integrations.slack import users
from integrations.slack.users import slack_console_user
from refunds.enums import DecisionKind, RefundState, Role
from refunds.models import Refund
from tests.integrations.slack.conftest import card_click, form, person, review_refund, sign

pytestmark = pytest.mark.django_db(transaction=True)


def approve(signed_post, sim, tasks, refund: Refund, user: str) -> Refund:
    body = form(card_click(Refund.objects.get(pk=refund.pk), user=user))
    assert signed_post(body, sign(body, secret=sim.signing_secret)).status_code == 200
    tasks.drain()
    return Refund.objects.get(pk=refund.pk)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        pytest.param({"is_restricted": True}, users.GUEST, id="demoted-to-guest"),
        pytest.param({"deleted": True}, users.DELETED, id="deactivated"),
        pytest.param({"team_id": "T0OTHER"}, users.OTHER_WORKSPACE, id="moved-to-another-workspace"),
        pytest.param({"is_email_confirmed": False}, users.EMAIL_UNCONFIRMED, id="email-unconfirmed"),
        pytest.param({"email": "someone.else@example.org"}, users.NOT_MAPPED, id="email-changed"),
    ],
)
def test_attack_a_slack_side_change_stops_the_next_approval(slack_settings, signed_post, tasks, change, why):
    sam = person(slack_settings, "sam", Role.AGENT)
    first = approve(signed_post, slack_settings, tasks, review_refund(amount_minor=5000), "USAM")
    assert first.state == RefundState.APPROVED
    flags = dict(change)
    slack_settings.add_user("USAM", flags.pop("email", sam.email), "sam", **flags)
    second = approve(signed_post, slack_settings, tasks, review_refund(amount_minor=5000), "USAM")
    assert second.state == RefundState.REQUESTED
    assert not second.decisions.filter(kind=DecisionKind.APPROVE).exists()
    assert [e["text"] for e in slack_settings.ephemerals(user="USAM")][-1] == why


def test_every_approval_in_celery_asks_slack_even_with_a_fresh_mapping(slack_settings, signed_post, tasks):
    person(slack_settings, "sam", Role.AGENT)
    slack_console_user("USAM")  # cached just now
    calls = len(slack_settings.calls("users.info"))
    approve(signed_post, slack_settings, tasks, review_refund(amount_minor=5000), "USAM")
    assert len(slack_settings.calls("users.info")) == calls + 1


def test_the_default_cache_is_a_minute():
    assert settings.SLACK_USER_CACHE_SECONDS == 60


def test_a_mapping_older_than_the_setting_is_not_used_whatever_its_expiry(slack_settings):
    """An entry written under the old 3600 s (its Redis expiry an hour) is read again after 60 s."""
    person(slack_settings, "sam", Role.AGENT)
    assert slack_console_user("USAM").user is not None
    key = users._user_key("USAM")
    entry = cache.get(key)
    cache.set(key, {**entry, "at": time.time() - settings.SLACK_USER_CACHE_SECONDS - 1}, 3600)
    slack_settings.add_user("USAM", "sam@example.com", "sam", is_restricted=True)
    assert slack_console_user("USAM").why == users.GUEST


def test_a_mapping_without_its_time_is_not_used(slack_settings):
    sam = person(slack_settings, "sam", Role.AGENT)
    cache.set(users._user_key("USAM"), {"user_id": sam.pk, "email": sam.email.lower()}, 3600)  # as main wrote it
    slack_settings.add_user("USAM", sam.email, "sam", deleted=True)
    assert slack_console_user("USAM").why == users.DELETED


def test_a_young_mapping_answers_a_modal_without_a_slack_call(slack_settings):
    sam = person(slack_settings, "sam", Role.AGENT)
    assert slack_console_user("USAM").user == sam
    calls = len(slack_settings.calls("users.info"))
    assert slack_console_user("USAM").user == sam
    assert len(slack_settings.calls("users.info")) == calls


def test_the_audit_trail_names_the_slack_account(slack_settings, signed_post, tasks):
    person(slack_settings, "sam", Role.AGENT)
    refund = approve(signed_post, slack_settings, tasks, review_refund(amount_minor=5000), "USAM")
    event = AuditEvent.objects.get(refund=refund, action="refund.approved")
    assert (event.channel, event.actor_label) == ("slack", "sam (Slack USAM)")
