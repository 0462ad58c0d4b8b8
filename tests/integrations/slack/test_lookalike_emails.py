"""A Slack email with Unicode lookalike letters never maps to the console user whose ASCII address it resembles.

The attack: U+017F LATIN SMALL LETTER LONG S and U+212A KELVIN SIGN fold to
"s" and "k" under str.lower() and PostgreSQL's UPPER(), so `email__iexact`
matched `\u017fam@corp.example` to sam@corp.example and approved as sam.
"""

from __future__ import annotations

import pytest

from integrations.slack import users
from integrations.slack.users import slack_console_user
from refunds.enums import DecisionKind, RefundState, Role
from refunds.models import Refund
from tests.integrations.slack.conftest import card_click, form, review_refund, sign
from tests.refunds.factories import UserFactory

LONG_S = "\u017f"
KELVIN = "\u212a"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("victim", "slack_email"),
    [
        pytest.param("sam@corp.example", f"{LONG_S}am@corp.example", id="long-s"),
        pytest.param("kim@corp.example", f"{KELVIN}im@corp.example", id="kelvin-sign"),
    ],
)
def test_attack_a_lookalike_slack_email_does_not_approve_as_the_victim(
    slack_settings, signed_post, tasks, victim, slack_email
):
    UserFactory(username=victim.split("@")[0], role=Role.AGENT, email=victim)
    slack_settings.add_user("UEVE", slack_email, "eve")
    refund = review_refund(amount_minor=5000)
    body = form(card_click(refund, user="UEVE"))
    assert signed_post(body, sign(body, secret=slack_settings.signing_secret)).status_code == 200
    tasks.drain()
    refund = Refund.objects.get(pk=refund.pk)
    assert refund.state == RefundState.REQUESTED
    assert not refund.decisions.filter(kind=DecisionKind.APPROVE).exists()
    assert [e["text"] for e in slack_settings.ephemerals(user="UEVE")] == [users.NON_ASCII_EMAIL]


@pytest.mark.django_db
def test_an_ascii_slack_email_does_not_map_to_a_console_user_with_a_lookalike_address(slack_settings):
    """The other way round: a console address with a Kelvin sign is not kim@ (lower() would make it so)."""
    UserFactory(username="kelvin", role=Role.AGENT, email=f"{KELVIN}im@corp.example")
    slack_settings.add_user("UKIM", "kim@corp.example", "kim")
    assert slack_console_user("UKIM").why == users.NOT_MAPPED


@pytest.mark.django_db
def test_a_lookalike_twin_does_not_make_a_true_match_ambiguous(slack_settings):
    sam = UserFactory(username="sam", role=Role.AGENT, email="sam@corp.example")
    UserFactory(username="twin", role=Role.AGENT, email=f"{LONG_S}am@corp.example")
    slack_settings.add_user("USAM", "SAM@corp.example", "sam")
    assert slack_console_user("USAM").user == sam
