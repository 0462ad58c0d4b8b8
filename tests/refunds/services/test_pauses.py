"""Kill switches (issue 16): pausing and resuming, their refusals and audit, and the request path while paused."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import close_old_connections, connection, transaction

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from refunds.enums import PauseKind, PolicyOutcome, Reason, RefundState, Role
from refunds.metrics import REFUND_AUTO_APPROVAL_PAUSED_TOTAL
from refunds.models import OperationsPause, OutboxMessage
from refunds.pause_metrics import database_gauges
from refunds.services.decide import refund_approve
from refunds.services.pauses import (
    auto_approval_paused,
    pause,
    pauses_in_force,
    resume,
    submission_paused,
)
from tests.refunds.factories import agent, captured_order, make_refund

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("system:test")
AUTO = PauseKind.AUTO_APPROVAL
SUBMIT = PauseKind.SUBMISSION


def test_a_pause_is_in_force_audited_and_resumed_with_its_reason():
    row = pause(AUTO, reason="  fraud wave   INC-42 ", actor=SYSTEM)

    assert row.reason == "fraud wave INC-42"
    assert pauses_in_force() == [row]
    assert auto_approval_paused("stripe") and auto_approval_paused("manual")
    assert not submission_paused("stripe")
    paused = AuditEvent.objects.get(action=AuditAction.OPERATIONS_PAUSED)
    assert paused.after == {"kind": AUTO, "provider": "", "reason": "fraud wave INC-42"}
    assert (paused.subject, paused.note, paused.actor_label) == ("pause:auto_approval:*", row.reason, "system:test")

    resumed = resume(AUTO, reason="INC-42 closed", actor=SYSTEM)

    assert resumed.pk == row.pk and resumed.resumed_at is not None and resumed.resume_reason == "INC-42 closed"
    assert pauses_in_force() == [] and not auto_approval_paused("stripe")
    event = AuditEvent.objects.get(action=AuditAction.OPERATIONS_RESUMED)
    assert event.after == {"kind": AUTO, "provider": "", "reason": "INC-42 closed"}
    assert event.before["reason"] == "fraud wave INC-42"


def test_a_provider_pause_applies_to_that_provider_only():
    pause(SUBMIT, provider="stripe", reason="provider incident", actor=SYSTEM)

    assert submission_paused("stripe")
    assert not submission_paused("manual")
    assert not auto_approval_paused("stripe")


def test_pausing_what_is_already_paused_is_a_conflict_and_no_second_row():
    pause(AUTO, provider="stripe", reason="first", actor=SYSTEM)

    with pytest.raises(DomainError) as error:
        pause(AUTO, provider="stripe", reason="second", actor=SYSTEM)

    assert error.value.code == ERR_CONFLICT_STATE
    assert "already paused" in error.value.message and "first" in error.value.message
    assert OperationsPause.objects.count() == 1
    # Another scope is another switch.
    pause(AUTO, reason="everything", actor=SYSTEM)
    assert OperationsPause.objects.filter(resumed_at__isnull=True).count() == 2


def test_resuming_what_is_not_paused_is_a_conflict():
    with pytest.raises(DomainError) as error:
        resume(SUBMIT, provider="stripe", reason="nothing to resume", actor=SYSTEM)

    assert error.value.code == ERR_CONFLICT_STATE
    assert "not paused" in error.value.message
    assert not AuditEvent.objects.filter(action=AuditAction.OPERATIONS_RESUMED).exists()


@pytest.mark.parametrize(
    ("kind", "provider", "reason", "field"),
    [
        ("everything", "", "why", "kind"),
        (AUTO, "paypal", "why", "provider"),
        (SUBMIT, "manual", "why", "provider"),  # paid out by hand: no API call to hold
        (AUTO, "", "   ", "reason"),
        (AUTO, "", "x" * 501, "reason"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(kind, provider, reason, field):
    with pytest.raises(DomainError) as error:
        pause(kind, provider=provider, reason=reason, actor=SYSTEM)

    assert (error.value.code, error.value.details.get("field")) == (ERR_VALIDATION, field)
    assert not OperationsPause.objects.exists()


def test_the_gauge_shows_each_pause_in_force_with_star_for_every_provider():
    pause(AUTO, reason="a", actor=SYSTEM)
    pause(SUBMIT, provider="stripe", reason="b", actor=SYSTEM)

    [family] = list(database_gauges())

    assert {(s.labels["kind"], s.labels["provider"], s.value) for s in family.samples} == {
        (AUTO, "*", 1),
        (SUBMIT, "stripe", 1),
    }
    resume(AUTO, reason="over", actor=SYSTEM)
    resume(SUBMIT, provider="stripe", reason="over", actor=SYSTEM)
    assert next(iter(database_gauges())).samples == []


# --- the request path ---------------------------------------------------------------------------


def test_while_auto_approval_is_paused_an_in_policy_refund_goes_to_review_and_says_why(
    django_capture_on_commit_callbacks,
):
    pause(AUTO, reason="fraud wave INC-42", actor=SYSTEM)
    before = REFUND_AUTO_APPROVAL_PAUSED_TOTAL._value.get()

    with django_capture_on_commit_callbacks(execute=True):
        refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=10000, reason=Reason.NOT_RECEIVED)

    assert refund.state == RefundState.REQUESTED
    assert refund.policy_outcome == PolicyOutcome.REVIEW
    assert refund.policy_rule == "R-AUTO-NOT_RECEIVED"  # what the policy said stays visible
    pause_id = OperationsPause.objects.get(kind=PauseKind.AUTO_APPROVAL).pk
    assert refund.policy_rule_text.startswith(f"auto-approval paused by operations (pause {pause_id};")
    assert "INC-42" not in refund.policy_rule_text  # the incident note is staff's, the rule text the merchant's too
    assert not OutboxMessage.objects.filter(refund=refund).exists()
    requested = AuditEvent.objects.get(refund=refund, action=AuditAction.REFUND_REQUESTED)
    assert f"auto-approval paused by operations (pause {pause_id};" in requested.policy_rule
    assert REFUND_AUTO_APPROVAL_PAUSED_TOTAL._value.get() == before + 1


def test_a_person_can_still_approve_what_the_pause_sent_to_review():
    pause(AUTO, reason="INC-43", actor=SYSTEM)
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=10000, reason=Reason.NOT_RECEIVED)

    approved = refund_approve(refund_id=refund.pk, actor=agent("a1", Role.AGENT), expected_version=refund.version)

    assert approved.state == RefundState.APPROVED


def test_a_pause_of_another_provider_changes_nothing_and_resume_auto_approves_again():
    pause(AUTO, provider="manual", reason="manual payouts audit", actor=SYSTEM)
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=10000, reason=Reason.NOT_RECEIVED)
    assert refund.state == RefundState.APPROVED

    pause(AUTO, provider="stripe", reason="stripe incident", actor=SYSTEM)
    held = make_refund(order=captured_order(amount_minor=10000), amount_minor=10000, reason=Reason.NOT_RECEIVED)
    resume(AUTO, provider="stripe", reason="over", actor=SYSTEM)
    again = make_refund(order=captured_order(amount_minor=10000), amount_minor=10000, reason=Reason.NOT_RECEIVED)

    assert (held.state, again.state) == (RefundState.REQUESTED, RefundState.APPROVED)


def test_review_outcomes_and_dual_control_are_unchanged_by_the_pause():
    pause(AUTO, reason="INC-44", actor=SYSTEM)
    refund = make_refund(order=captured_order(amount_minor=900000), amount_minor=900000, reason=Reason.GOODWILL)

    assert refund.policy_outcome == PolicyOutcome.REVIEW
    assert "paused" not in refund.policy_rule_text  # the policy itself sent it to review
    assert refund.approvals_required == 2


# --- two operators at once ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_operators_pausing_at_once_make_one_pause_and_one_clear_refusal():
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL")
    barrier = threading.Barrier(4)
    results: list[object] = []

    def operator(n: int) -> None:
        try:
            barrier.wait()
            results.append(pause(SUBMIT, provider="stripe", reason=f"operator {n}", actor=SYSTEM))
        except DomainError as error:
            results.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=operator, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    rows = [r for r in results if isinstance(r, OperationsPause)]
    refusals = [r for r in results if isinstance(r, DomainError)]
    assert len(rows) == 1 and len(refusals) == 3
    assert {error.code for error in refusals} == {ERR_CONFLICT_STATE}
    assert OperationsPause.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.OPERATIONS_PAUSED).count() == 1


# --- a pause committed while a create waits for it -----------------------------------------------


def _waiting_for_advisory_lock() -> bool:
    """Is some other session of this database waiting for an advisory lock right now?"""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND pid <> pg_backend_pid()"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_pause_that_commits_while_a_create_waits_for_the_switch_sends_that_create_to_review():
    """The create's read of the switch must see a pause that held the switch's lock when the read began.

    The shared lock and the read are taken in one statement; a read whose
    snapshot is older than the lock it waited for would miss the pause that
    was committing meanwhile, and auto-approve a refund after `pause` returned.
    """
    if connection.vendor != "postgresql":
        pytest.skip("the switch's lock is PostgreSQL's")
    order = captured_order(amount_minor=10000)
    pause_open, let_commit = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def operator() -> None:
        try:
            with transaction.atomic():
                pause(AUTO, reason="fraud wave", actor=SYSTEM)  # holds the switch exclusive until COMMIT
                pause_open.set()
                let_commit.wait(timeout=30)
        finally:
            connection.close()

    def creator() -> None:
        try:
            results["refund"] = make_refund(order=order, amount_minor=1000, reason=Reason.NOT_RECEIVED)
        except Exception as error:  # noqa: BLE001 - the assertion below shows it
            results["refund"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=operator)]
    threads[0].start()
    assert pause_open.wait(timeout=30)
    threads.append(threading.Thread(target=creator))
    threads[1].start()
    deadline = time.monotonic() + 30
    while not _waiting_for_advisory_lock():
        assert time.monotonic() < deadline, "the create never waited for the switch"
        time.sleep(0.02)
    let_commit.set()
    for thread in threads:
        thread.join(timeout=30)

    refund = results["refund"]
    assert not isinstance(refund, Exception), refund
    assert (refund.state, refund.policy_outcome) == (RefundState.REQUESTED, PolicyOutcome.REVIEW)
    assert refund.policy_rule_text.startswith("auto-approval paused by operations")
