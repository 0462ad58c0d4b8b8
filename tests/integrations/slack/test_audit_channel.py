"""Decisions from Slack in the audit trail: channel "slack", label "alice (Slack UALICE)", sealed into the chain.

The channel is part of an event's sealed content when set
(`audit.services._canonical`), so rewriting where someone acted — passing a
Slack approval off as a console one, or the reverse — breaks verification.
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import AuditEvent, AuditSeal
from audit.services import audit_seal_pending, audit_verify
from core.actor import Actor
from refunds.enums import Role
from refunds.services.decide import refund_approve, refund_deny
from tests.integrations.slack.conftest import review_refund
from tests.refunds.factories import UserFactory

pytestmark = pytest.mark.django_db


def _tamper(sql: str, params: list) -> None:
    # Only a superuser who switches the append-only triggers off can do this; the chain still tells.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


@pytest.fixture
def slack_events():
    alice = UserFactory(username="alice", role=Role.SENIOR_AGENT)
    bob = UserFactory(username="bob", role=Role.SENIOR_AGENT)
    approved = review_refund(amount_minor=25000)
    refund_approve(refund_id=approved.pk, actor=Actor.for_slack_user(alice, "UALICE"))  # 1 of 2, from Slack
    refund_approve(refund_id=approved.pk, actor=Actor.for_user(bob))  # 2 of 2, from the console
    declined = review_refund()
    refund_deny(refund_id=declined.pk, actor=Actor.for_slack_user(bob, "UBOB"), note="Sorry.", rationale="internal")
    return AuditEvent.objects.filter(channel="slack")


def test_slack_decisions_are_audited_with_the_channel_and_label(slack_events):
    assert sorted(slack_events.values_list("action", "actor_label")) == [
        ("refund.approval_recorded", "alice (Slack UALICE)"),
        ("refund.denied", "bob (Slack UBOB)"),
    ]
    console = AuditEvent.objects.get(action="refund.approved")
    assert (console.channel, console.actor_label) == ("", "bob")


def test_the_chain_with_slack_events_seals_and_verifies(slack_events):
    assert audit_seal_pending() == AuditEvent.objects.count()
    assert list(audit_verify()) == []
    call_command("verify_audit")


def test_rewriting_the_channel_of_a_sealed_event_breaks_the_chain(slack_events):
    audit_seal_pending()
    event = slack_events.get(action="refund.approval_recorded")
    seq = AuditSeal.objects.get(event=event).seq
    _tamper("UPDATE audit_auditevent SET channel = '' WHERE id = %s", [event.pk])
    assert [p.where for p in audit_verify()] == [f"seq {seq}"]
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit")


def test_passing_a_console_approval_off_as_a_slack_one_breaks_the_chain(slack_events):
    audit_seal_pending()
    event = AuditEvent.objects.get(action="refund.approved")
    seq = AuditSeal.objects.get(event=event).seq
    _tamper("UPDATE audit_auditevent SET channel = 'slack' WHERE id = %s", [event.pk])
    assert [p.where for p in audit_verify()] == [f"seq {seq}"]
