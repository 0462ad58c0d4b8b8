"""Approve from the Slack card: the console's rules, decided in Celery, audited with the channel "slack".

The simulator clicks the card's button; the app (Django's live server)
verifies, records and acknowledges at once; the queued task (drained here,
as a worker would run it) maps the person, calls `refund_approve` with the
card's version and answers with an ephemeral message.
"""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from core.actor import Actor
from core.errors import CATALOG, ERR_AUTHZ_MAKER_CHECKER
from integrations.models import InteractionStatus, SlackInteraction
from integrations.slack import text, users
from refunds.enums import DecisionKind, RefundState, Role
from refunds.models import Refund
from refunds.services.decide import refund_edit
from tests.integrations.slack.conftest import person, post_card, redraw_card, review_refund
from tests.refunds.factories import UserFactory, agent
from tests.support.slack_sim import APPROVALS_CHANNEL

pytestmark = pytest.mark.django_db(transaction=True)


def tap(sim, slack_user: str, ts: str, action: str = "approve") -> dict:
    answer = sim.click(slack_user, APPROVALS_CHANNEL, ts, action)
    assert answer["status"] == 200, answer
    return answer


def told(sim, slack_user: str) -> list[str]:
    return [e["text"] for e in sim.ephemerals(APPROVALS_CHANNEL, slack_user)]


def fresh(refund: Refund) -> Refund:
    return Refund.objects.get(pk=refund.pk)


def test_a_mapped_agent_approves_from_slack_and_the_audit_says_slack(slack_app, tasks):
    alice = person(slack_app, "alice", Role.AGENT)
    refund = review_refund(amount_minor=5000)
    ts = post_card(refund)
    answer = tap(slack_app, "UALICE", ts)
    assert answer["body"] in ("", None)
    assert fresh(refund).state == RefundState.REQUESTED  # acknowledged first, decided in Celery
    assert tasks.names() == ["integrations.slack.process_interaction"]
    tasks.drain()
    refund = fresh(refund)
    assert refund.state == RefundState.APPROVED
    decision = refund.decisions.get(kind=DecisionKind.APPROVE)
    assert decision.actor == alice
    event = AuditEvent.objects.get(refund=refund, action="refund.approved")
    assert (event.channel, event.actor_label, event.actor_user) == ("slack", "alice (Slack UALICE)", alice)
    assert told(slack_app, "UALICE") == ["Approved 50.00 USD. The customer gets the drafted reply."]
    row = SlackInteraction.objects.get()
    assert row.status == InteractionStatus.DONE and row.processed_at is not None


def test_the_requester_tapping_approve_is_refused_by_maker_checker(slack_app, tasks):
    maker = person(slack_app, "maker", Role.AGENT)
    refund = review_refund(by=Actor.for_user(maker))
    ts = post_card(refund)
    tap(slack_app, "UMAKER", ts)
    tasks.drain()
    assert fresh(refund).state == RefundState.REQUESTED
    assert not fresh(refund).decisions.filter(kind=DecisionKind.APPROVE).exists()
    assert told(slack_app, "UMAKER") == [str(CATALOG[ERR_AUTHZ_MAKER_CHECKER][2])]
    assert SlackInteraction.objects.get().status == InteractionStatus.REFUSED


def test_dual_control_first_senior_in_slack_second_in_the_console(slack_app, tasks):
    sam = person(slack_app, "sam", Role.SENIOR_AGENT)
    refund = review_refund(amount_minor=25000)
    assert refund.approvals_required == 2
    ts = post_card(refund)
    tap(slack_app, "USAM", ts)
    tasks.drain()
    assert fresh(refund).state == RefundState.REQUESTED
    assert told(slack_app, "USAM") == [
        "Your approval is recorded (1 of 2). A different senior agent must give the next one."
    ]
    recorded = AuditEvent.objects.get(refund=refund, action="refund.approval_recorded")
    assert (recorded.channel, recorded.actor_user) == ("slack", sam)

    console = Client()
    console.force_login(UserFactory(username="tess", role=Role.SENIOR_AGENT))
    console.post(f"/console/refunds/{refund.public_id}/approve/", {"version": fresh(refund).version})
    assert fresh(refund).state == RefundState.APPROVED
    final = AuditEvent.objects.get(refund=refund, action="refund.approved")
    assert (final.channel, final.actor_label) == ("", "tess")


def test_the_same_senior_in_the_console_then_in_slack_counts_once(slack_app, tasks):
    sam = person(slack_app, "sam", Role.SENIOR_AGENT)
    refund = review_refund(amount_minor=25000)
    console = Client()
    console.force_login(sam)
    console.post(f"/console/refunds/{refund.public_id}/approve/", {"version": refund.version})
    assert fresh(refund).decisions.filter(kind=DecisionKind.APPROVE).count() == 1
    ts = post_card(refund)
    tap(slack_app, "USAM", ts)
    tasks.drain()
    assert fresh(refund).state == RefundState.REQUESTED
    assert fresh(refund).decisions.filter(kind=DecisionKind.APPROVE).count() == 1
    assert told(slack_app, "USAM") == ["You already approved this refund; a different senior must."]


def test_the_same_senior_twice_in_slack_counts_once(slack_app, tasks):
    person(slack_app, "sam", Role.SENIOR_AGENT)
    refund = review_refund(amount_minor=25000)
    ts = post_card(refund)
    tap(slack_app, "USAM", ts)
    tap(slack_app, "USAM", ts)
    tasks.drain()
    assert fresh(refund).decisions.filter(kind=DecisionKind.APPROVE).count() == 1
    assert told(slack_app, "USAM")[-1] == "You already approved this refund; a different senior must."


def test_two_seniors_in_slack_complete_dual_control(slack_app, tasks):
    person(slack_app, "sam", Role.SENIOR_AGENT)
    person(slack_app, "tess", Role.SENIOR_AGENT)
    refund = review_refund(amount_minor=25000)
    ts = post_card(refund)
    tap(slack_app, "USAM", ts)
    tap(slack_app, "UTESS", ts)
    tasks.drain()
    assert fresh(refund).state == RefundState.APPROVED
    assert told(slack_app, "UTESS") == ["Approved 250.00 USD. The customer gets the drafted reply."]


def test_an_agent_who_is_not_senior_cannot_approve_a_dual_control_refund(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund(amount_minor=25000)
    ts = post_card(refund)
    tap(slack_app, "UALICE", ts)
    tasks.drain()
    assert not fresh(refund).decisions.filter(kind=DecisionKind.APPROVE).exists()
    assert told(slack_app, "UALICE") == ["This refund needs approvals from senior agents."]


def test_an_unmapped_slack_user_is_told_why_and_nothing_changes(slack_app, tasks):
    slack_app.add_user("UNEW", "nobody-here@example.com", "newbie")
    refund = review_refund()
    ts = post_card(refund)
    tap(slack_app, "UNEW", ts)
    tasks.drain()
    assert fresh(refund).state == RefundState.REQUESTED
    assert told(slack_app, "UNEW") == [users.NOT_MAPPED]
    assert SlackInteraction.objects.get().status == InteractionStatus.REFUSED


def test_a_guest_whose_profile_shows_a_seniors_email_cannot_approve(slack_app, tasks):
    UserFactory(username="sam", email="sam@example.com", role=Role.SENIOR_AGENT)
    slack_app.add_user("UGUEST", "sam@example.com", "guest", is_restricted=True)
    refund = review_refund()
    ts = post_card(refund)
    tap(slack_app, "UGUEST", ts)
    tasks.drain()
    assert not fresh(refund).decisions.exists()
    assert told(slack_app, "UGUEST") == [users.GUEST]


def test_a_member_of_another_workspace_whose_email_is_a_seniors_cannot_approve(slack_app, tasks):
    UserFactory(username="sam", email="sam@example.com", role=Role.SENIOR_AGENT)
    slack_app.add_user("UEXT", "sam@example.com", "sam", team_id="T0ELSEWHERE")
    refund = review_refund()
    ts = post_card(refund)
    tap(slack_app, "UEXT", ts)
    tasks.drain()
    assert not fresh(refund).decisions.exists()
    assert told(slack_app, "UEXT") == [users.OTHER_WORKSPACE]


def test_a_senior_deactivated_in_the_console_stops_at_once_in_slack(slack_app, tasks):
    sam = person(slack_app, "sam", Role.SENIOR_AGENT)
    first = review_refund()
    tap(slack_app, "USAM", post_card(first))
    tasks.drain()
    assert fresh(first).state == RefundState.APPROVED  # mapped and cached
    sam.is_active = False
    sam.save()
    second = review_refund()
    tap(slack_app, "USAM", post_card(second))
    tasks.drain()
    assert fresh(second).state == RefundState.REQUESTED
    assert told(slack_app, "USAM")[-1] == users.INACTIVE


def test_a_tap_on_a_card_drawn_before_an_edit_is_refused(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund(amount_minor=5000)
    ts = post_card(refund)
    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=4000)
    tap(slack_app, "UALICE", ts)  # the card still shows version 1
    tasks.drain()
    assert fresh(refund).state == RefundState.REQUESTED
    assert told(slack_app, "UALICE") == [text.STALE_CARD]
    redraw_card(refund, ts)
    tap(slack_app, "UALICE", ts)
    tasks.drain()
    assert fresh(refund).state == RefundState.APPROVED
    assert fresh(refund).amount_minor == 4000


def test_an_approval_tapped_on_an_already_approved_refund_changes_nothing(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    person(slack_app, "bob", Role.AGENT)
    refund = review_refund()
    ts = post_card(refund)
    tap(slack_app, "UALICE", ts)
    tap(slack_app, "UBOB", ts)
    tasks.drain()
    assert fresh(refund).decisions.filter(kind=DecisionKind.APPROVE).count() == 1
    assert told(slack_app, "UBOB") == ["This refund was already approved; nothing changed."]


def test_a_task_delivered_twice_decides_once(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund()
    tap(slack_app, "UALICE", post_card(refund))
    [(task, kwargs)] = tasks.queued
    tasks.queued.append((task, kwargs))  # redelivered (acks_late, a worker lost)
    results = tasks.drain()
    assert [result for _, result in results][:2] == [InteractionStatus.DONE, "already processed"]
    assert fresh(refund).decisions.filter(kind=DecisionKind.APPROVE).count() == 1
    assert len(told(slack_app, "UALICE")) == 1


def test_slack_slow_to_say_who_taps_is_retried_then_decided(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund()
    ts = post_card(refund)
    tap(slack_app, "UALICE", ts)
    slack_app.fault("users.info", 429, count=2, retry_after=1)
    tasks.drain()
    assert fresh(refund).state == RefundState.APPROVED
    assert len(slack_app.calls("users.info")) == 3


def test_a_rate_limited_ephemeral_is_retried_and_never_blocks_the_decision(slack_app, tasks):
    person(slack_app, "alice", Role.AGENT)
    refund = review_refund()
    tap(slack_app, "UALICE", post_card(refund))
    slack_app.fault("chat.postEphemeral", 429, count=1, retry_after=1)
    slack_app.fault("chat.postEphemeral", 503, count=1)
    tasks.drain()
    assert fresh(refund).state == RefundState.APPROVED
    assert told(slack_app, "UALICE") == ["Approved 50.00 USD. The customer gets the drafted reply."]
    assert [c["status"] for c in slack_app.calls("chat.postEphemeral")] == [429, 503, 200]
