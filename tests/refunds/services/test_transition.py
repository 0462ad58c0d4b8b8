"""The one owner of refund moves: each edge carries its money, ledger, audit and after-commit effects."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.actor import Actor
from core.errors import ERR_EXCEEDS_REMAINING, DomainError, InvalidTransition
from ledger.enums import EntryType
from ledger.models import JournalEntry
from refunds.enums import ACTIVE_STATES, Reason, RefundState
from refunds.models import Payment, Refund
from refunds.services.transition import refund_lock, refund_transition
from refunds.signals import refund_changed
from tests.refunds.factories import captured_order, make_refund, move_refund

pytestmark = pytest.mark.django_db
S = RefundState
SYSTEM = Actor.system("test")


def reviewed(amount_minor: int = 3000, order_amount: int = 10000) -> Refund:
    return make_refund(
        order=captured_order(amount_minor=order_amount), amount_minor=amount_minor, reason=Reason.GOODWILL
    )


def reserved(refund: Refund) -> int:
    return Payment.objects.get(pk=refund.payment_id).refund_reserved_minor


def entries(refund: Refund) -> list[str]:
    return sorted(JournalEntry.objects.filter(refund=refund).values_list("entry_type", flat=True))


@pytest.mark.parametrize(
    ("path", "held", "ledger"),
    [
        ([S.APPROVED], True, [EntryType.REFUND_PENDING]),
        ([S.DENIED], False, []),
        ([S.CANCELED], False, []),
        ([S.APPROVED, S.CANCELED], False, [EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED]),
        ([S.APPROVED, S.SUBMITTING, S.COMPLETED], True, [EntryType.REFUND_PENDING, EntryType.REFUND_SETTLED]),
        (
            [S.APPROVED, S.SUBMITTING, S.PROVIDER_PENDING, S.COMPLETED],
            True,
            [EntryType.REFUND_PENDING, EntryType.REFUND_SETTLED],
        ),
        ([S.APPROVED, S.SUBMITTING, S.FAILED], False, [EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED]),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, list) and value and isinstance(value[0], str) else None,
)
def test_each_path_holds_money_and_posts_exactly_what_its_states_imply(path, held, ledger):
    refund = reviewed()
    for state in path:
        refund = move_refund(refund, state)
    assert refund.state == path[-1]
    assert (reserved(refund) == refund.amount_minor) is held
    assert (refund.state in ACTIVE_STATES) is held
    assert entries(refund) == sorted(ledger)
    actions = list(AuditEvent.objects.filter(refund=refund).order_by("id").values_list("action", flat=True))
    assert actions[1:] == [f"refund.{'submitted' if state == S.SUBMITTING else state}" for state in path]


def test_a_move_that_is_not_an_edge_is_refused_and_changes_nothing():
    refund = reviewed()
    with pytest.raises(InvalidTransition) as error:
        move_refund(refund, S.COMPLETED)
    assert (error.value.current, error.value.target) == (S.REQUESTED, S.COMPLETED)
    assert Refund.objects.get(pk=refund.pk).state == S.REQUESTED
    assert reserved(refund) == refund.amount_minor
    assert entries(refund) == []


def test_retry_after_a_retryable_failure_reserves_again_and_counts_a_new_round():
    refund = reviewed()
    for state in (S.APPROVED, S.SUBMITTING):
        refund = move_refund(refund, state)
    refund = move_refund(refund, S.FAILED, changes={"failure_code": "insufficient_funds", "failure_retryable": True})
    assert reserved(refund) == 0
    assert entries(refund) == [EntryType.REFUND_PENDING]  # a retryable failure is not reversed
    refund = move_refund(refund, S.SUBMITTING, action=AuditAction.REFUND_RETRY_SUBMITTED)
    assert (refund.submission_count, refund.failure_code, refund.failure_retryable) == (2, "", False)
    assert reserved(refund) == refund.amount_minor
    assert AuditEvent.objects.filter(refund=refund).latest("id").action == AuditAction.REFUND_RETRY_SUBMITTED


def test_retry_is_refused_when_the_payment_no_longer_has_the_amount():
    refund = reviewed(amount_minor=6000)
    for state in (S.APPROVED, S.SUBMITTING):
        refund = move_refund(refund, state)
    refund = move_refund(refund, S.FAILED, changes={"failure_code": "insufficient_funds", "failure_retryable": True})
    make_refund(order=refund.order, amount_minor=5000, reason=Reason.OTHER)  # takes what the failure released
    with pytest.raises(DomainError) as error:
        move_refund(refund, S.SUBMITTING)
    assert error.value.code == ERR_EXCEEDS_REMAINING
    assert Refund.objects.get(pk=refund.pk).state == S.FAILED


def test_terminal_failure_cannot_be_submitted_again():
    refund = reviewed()
    for state in (S.APPROVED, S.SUBMITTING):
        refund = move_refund(refund, state)
    refund = move_refund(
        refund, S.FAILED, changes={"failure_code": "expired_or_canceled_card", "failure_retryable": False}
    )
    with pytest.raises(InvalidTransition):
        move_refund(refund, S.SUBMITTING)


def test_log_metric_and_signal_wait_for_the_commit(django_capture_on_commit_callbacks, caplog):
    refund = reviewed()
    heard: list[tuple[str, str]] = []

    def listener(sender, *, refund, event, state, **kwargs):
        heard.append((event, state))

    refund_changed.connect(listener)
    try:
        with caplog.at_level(logging.INFO, logger="refunds"):
            with django_capture_on_commit_callbacks(execute=False) as callbacks:
                move_refund(refund, S.APPROVED)
            assert heard == []
            assert not any(getattr(r, "message_id", "") == "MSG.refund.approved" for r in caplog.records)
            for callback in callbacks:
                callback()
    finally:
        refund_changed.disconnect(listener)
    assert heard == [(AuditAction.REFUND_APPROVED, S.APPROVED)]
    assert any(getattr(r, "message_id", "") == "MSG.refund.approved" for r in caplog.records)


def test_a_rolled_back_move_tells_nobody(django_capture_on_commit_callbacks):
    refund = reviewed()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        locked, payment = refund_lock(refund_id=refund.pk)
        refund_transition(locked, payment=payment, to=S.APPROVED, actor=SYSTEM)
        raise RuntimeError("the request failed after the move")
    assert callbacks == []
    assert Refund.objects.get(pk=refund.pk).state == S.REQUESTED
    assert entries(refund) == []


def test_a_failing_receiver_is_logged_not_raised(django_capture_on_commit_callbacks, caplog):
    refund = reviewed()

    def broken(sender, **kwargs):
        raise RuntimeError("receiver bug")

    refund_changed.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            move_refund(refund, S.APPROVED)
    finally:
        refund_changed.disconnect(broken)
    assert Refund.objects.get(pk=refund.pk).state == S.APPROVED
    assert any(getattr(r, "message_id", "") == "MSG.refund.receiver_failed" for r in caplog.records)


def test_events_are_dated_when_the_move_began_so_its_records_follow_it():
    refund = move_refund(reviewed(), S.APPROVED)
    event = AuditEvent.objects.filter(refund=refund, action=AuditAction.REFUND_APPROVED).get()
    entry = JournalEntry.objects.get(refund=refund, entry_type=EntryType.REFUND_PENDING)
    assert event.occurred_at <= entry.created_at
