"""Approvals whose task was lost (broker down when the tap was recorded, a worker gone) are not lost.

The inbox row is durable; the beat sweeper queues its task again for a
while, and past SWEEP_GIVE_UP_AFTER gives it up and tells the person to tap
again rather than approve long after the tap.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from integrations.models import InteractionStatus, SlackInteraction
from integrations.slack import text
from integrations.slack.decisions import SWEEP_GIVE_UP_AFTER, process_interaction, sweep_interactions
from refunds.enums import RefundState, Role
from refunds.models import Refund
from tests.integrations.slack.conftest import card_click, form, person, review_refund, sign
from tests.support.slack_sim import APPROVALS_CHANNEL

pytestmark = pytest.mark.django_db


@pytest.fixture
def lost_tap(slack_settings, signed_post, tasks, monkeypatch):
    """An approve tap recorded while its task could not be queued (the broker refused it)."""
    person(slack_settings, "alice", Role.AGENT)
    refund = review_refund()
    body = form(card_click(refund))
    queue = process_interaction.apply_async

    def broker_down(**kwargs):
        raise OperationalError("broker down")

    monkeypatch.setattr(process_interaction, "apply_async", broker_down)
    assert signed_post(body, sign(body, secret=slack_settings.signing_secret)).status_code == 200
    monkeypatch.setattr(process_interaction, "apply_async", queue)
    assert tasks.names() == []
    return refund, SlackInteraction.objects.get()


def age(row: SlackInteraction, by: timedelta) -> None:
    SlackInteraction.objects.filter(pk=row.pk).update(received_at=timezone.now() - by)


def test_a_recent_tap_is_left_to_its_own_task(lost_tap, tasks):
    assert sweep_interactions() == 0
    assert tasks.names() == []


def test_a_lost_approval_is_queued_again_and_decided(lost_tap, tasks):
    refund, row = lost_tap
    age(row, timedelta(minutes=2))
    assert sweep_interactions() == 1
    tasks.drain()
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED
    assert SlackInteraction.objects.get(pk=row.pk).status == InteractionStatus.DONE


def test_a_tap_too_old_to_decide_is_given_up_and_the_person_told(
    lost_tap, tasks, slack_settings, django_capture_on_commit_callbacks
):
    refund, row = lost_tap
    age(row, SWEEP_GIVE_UP_AFTER + timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_interactions() == 0
    tasks.drain()
    assert Refund.objects.get(pk=refund.pk).state == RefundState.REQUESTED
    assert SlackInteraction.objects.get(pk=row.pk).status == InteractionStatus.FAILED
    assert [e["text"] for e in slack_settings.ephemerals(APPROVALS_CHANNEL, "UALICE")] == [
        text.NOT_PROCESSED.format(refund=refund.public_id)
    ]
