"""The card's mark is written in the change's transaction (integrations.slack.receivers): with it, or not at all."""

from __future__ import annotations

from functools import partial

import pytest
from django.db import transaction

from integrations.models import SlackCard
from integrations.slack.sync import card_enqueue
from refunds.enums import Reason, Role
from refunds.services.cancel import refund_cancel
from refunds.services.decide import refund_approve, refund_approve_with_reply, refund_deny, refund_edit
from tests.integrations.slack.support import CHANNEL, card_of, reviewed
from tests.refunds.factories import agent, captured_order, make_refund, merchant_system

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


@pytest.fixture
def slack_on(settings):
    settings.SLACK_BOT_TOKEN = "xoxb-receiver-tests"
    settings.SLACK_APPROVALS_CHANNEL = CHANNEL


def card_tasks(callbacks) -> list[int]:
    """The card ids whose sync task the captured on-commit callbacks would queue."""
    return [cb.args[0] for cb in callbacks if isinstance(cb, partial) and cb.func is card_enqueue]


def test_a_refund_that_needs_a_person_gets_its_card_and_a_task_on_commit(slack_on, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        refund = reviewed()

    card = card_of(refund)
    assert (card.wanted_revision, card.posted_revision, card.ts) == (1, 0, "")
    assert card.queued_until is not None
    assert card_tasks(callbacks) == [card.pk]


def test_a_refund_the_policy_approves_gets_no_card(slack_on):
    refund = make_refund(order=captured_order(), amount_minor=500, reason=Reason.OTHER)

    assert refund.state == "approved"
    assert not SlackCard.objects.exists()


def test_off_without_a_token_nothing_is_written_or_queued(settings, django_capture_on_commit_callbacks):
    settings.SLACK_BOT_TOKEN = ""
    settings.SLACK_APPROVALS_CHANNEL = CHANNEL
    with django_capture_on_commit_callbacks() as callbacks:
        refund = reviewed()
        refund_deny(refund_id=refund.pk, actor=agent("decliner"), note="No.")

    assert not SlackCard.objects.exists()
    assert card_tasks(callbacks) == []


def test_without_a_channel_no_card_is_made(settings):
    settings.SLACK_BOT_TOKEN = "xoxb-receiver-tests"
    settings.SLACK_APPROVALS_CHANNEL = ""

    reviewed()

    assert not SlackCard.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: refund_deny(refund_id=r.pk, actor=agent("decliner"), note="No."), id="deny"),
        pytest.param(lambda r: refund_approve(refund_id=r.pk, actor=agent("approver")), id="approve"),
        pytest.param(lambda r: refund_edit(refund_id=r.pk, actor=agent("editor"), amount_minor=3000), id="edit"),
        pytest.param(lambda r: refund_cancel(refund_id=r.pk, actor=merchant_system()), id="cancel"),
    ],
)
def test_every_change_bumps_the_wanted_revision(slack_on, change):
    refund = reviewed()

    change(refund)

    assert card_of(refund).wanted_revision == 2


def test_the_first_of_two_approvals_bumps_it_too(slack_on):
    refund = reviewed(amount_minor=25000, order_amount=100000)

    refund_approve(refund_id=refund.pk, actor=agent("senior-one", Role.SENIOR_AGENT))

    assert card_of(refund).wanted_revision == 2
    assert refund.state == "requested"


def test_a_task_already_queued_is_not_queued_again(slack_on, django_capture_on_commit_callbacks):
    refund = reviewed()  # its task is queued, not started
    with django_capture_on_commit_callbacks() as callbacks:
        refund_approve_with_reply(refund_id=refund.pk, actor=agent("approver"), reply="We refund {amount}.")

    assert card_of(refund).wanted_revision == 3  # the edit, then the approval
    assert card_tasks(callbacks) == []


def test_a_change_after_the_task_started_queues_one_task(slack_on, django_capture_on_commit_callbacks):
    refund = reviewed()
    SlackCard.objects.filter(refund=refund).update(queued_until=None)  # the task ran
    with django_capture_on_commit_callbacks() as callbacks:
        refund_approve_with_reply(refund_id=refund.pk, actor=agent("approver"), reply="We refund {amount}.")

    assert card_tasks(callbacks) == [card_of(refund).pk]


def test_a_change_that_rolls_back_leaves_no_card(slack_on):
    with pytest.raises(Rollback), transaction.atomic():
        reviewed()
        assert SlackCard.objects.count() == 1
        raise Rollback

    assert not SlackCard.objects.exists()


def test_a_decision_that_rolls_back_leaves_the_revision_as_it_was(slack_on):
    refund = reviewed()
    with pytest.raises(Rollback), transaction.atomic():
        refund_deny(refund_id=refund.pk, actor=agent("decliner"), note="No.")
        assert card_of(refund).wanted_revision == 2
        raise Rollback

    assert card_of(refund).wanted_revision == 1
