"""An approval's task that runs more than APPROVAL_MAX_AGE after the tap decides nothing, beat or no beat.

The attack: the task's retries follow Slack's Retry-After uncapped, and a
queue may hold a task for long; only the sweeper's give-up (which needs
beat) stopped a tap from approving long after it was made.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import InteractionStatus, SlackInteraction
from integrations.slack import text
from integrations.slack.decisions import APPROVAL_MAX_AGE
from refunds.enums import DecisionKind, RefundState, Role
from refunds.models import Refund
from tests.integrations.slack.conftest import card_click, form, person, review_refund, sign

pytestmark = pytest.mark.django_db(transaction=True)


def tap_then_wait(signed_post, sim, refund: Refund, user: str, waited: timedelta) -> SlackInteraction:
    body = form(card_click(refund, user=user))
    assert signed_post(body, sign(body, secret=sim.signing_secret)).status_code == 200
    row = SlackInteraction.objects.get()
    SlackInteraction.objects.filter(pk=row.pk).update(received_at=timezone.now() - waited)
    return row


def test_attack_a_task_running_eleven_minutes_late_does_not_approve(slack_settings, signed_post, tasks):
    person(slack_settings, "sam", Role.AGENT)
    refund = review_refund(amount_minor=5000)
    row = tap_then_wait(signed_post, slack_settings, refund, "USAM", APPROVAL_MAX_AGE + timedelta(minutes=1))
    tasks.drain()
    refund = Refund.objects.get(pk=refund.pk)
    assert refund.state == RefundState.REQUESTED
    assert not refund.decisions.filter(kind=DecisionKind.APPROVE).exists()
    row.refresh_from_db()
    words = text.TAP_TOO_OLD.format(refund=refund.public_id, minutes=10)
    assert (row.status, row.outcome) == (InteractionStatus.FAILED, words)
    assert [e["text"] for e in slack_settings.ephemerals(user="USAM")] == [words]
    assert slack_settings.calls("users.info") == []  # nothing asked of Slack for a tap that old


def test_a_task_nine_minutes_late_still_decides(slack_settings, signed_post, tasks):
    person(slack_settings, "sam", Role.AGENT)
    refund = review_refund(amount_minor=5000)
    tap_then_wait(signed_post, slack_settings, refund, "USAM", APPROVAL_MAX_AGE - timedelta(minutes=1))
    tasks.drain()
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED
