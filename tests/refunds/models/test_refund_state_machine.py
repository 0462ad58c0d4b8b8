"""Every edge of SPEC §3.1 is allowed, every other pair refused — by the FSM and by PostgreSQL."""

import itertools

import pytest
from django.db import IntegrityError, connection, transaction
from django_fsm import can_proceed

from refunds.enums import RefundState
from refunds.models import Refund
from refunds.models.refund import ALLOWED_TRANSITIONS, TRANSITION_METHODS
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db

S = RefundState


@pytest.mark.parametrize(("source", "target"), sorted(itertools.product(S.values, S.values)))
def test_fsm_allows_exactly_the_spec_edges(source, target):
    if target == S.REQUESTED:
        assert (source, target) not in ALLOWED_TRANSITIONS
        return
    refund = Refund(state=source, failure_retryable=True)
    allowed = can_proceed(getattr(refund, TRANSITION_METHODS[target]))
    assert allowed == ((source, target) in ALLOWED_TRANSITIONS)


def test_failed_is_terminal_unless_retryable():
    assert not can_proceed(Refund(state=S.FAILED, failure_retryable=False).submit)
    assert can_proceed(Refund(state=S.FAILED, failure_retryable=True).submit)


def _force_state(refund, state):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE refunds_refund SET state = %s WHERE id = %s", [state, refund.pk])


# Legal paths from `approved` (where an in-policy refund starts) to each state.
PATHS = {
    S.APPROVED: [],
    S.CANCELED: [S.CANCELED],
    S.COMPLETED: [S.SUBMITTING, S.COMPLETED],
    S.FAILED: [S.SUBMITTING, S.FAILED],
}


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.COMPLETED, S.APPROVED),
        (S.COMPLETED, S.SUBMITTING),
        (S.COMPLETED, S.CANCELED),
        (S.FAILED, S.APPROVED),
        (S.CANCELED, S.SUBMITTING),
        (S.APPROVED, S.COMPLETED),
        (S.FAILED, S.COMPLETED),
        (S.APPROVED, S.REQUESTED),
    ],
)
def test_database_refuses_a_transition_outside_the_machine(source, target):
    refund = make_refund(order=captured_order(), amount_minor=100)
    assert refund.state == S.APPROVED
    for state in PATHS[source]:
        _force_state(refund, state)
    with pytest.raises(IntegrityError), transaction.atomic():
        _force_state(refund, target)


def test_database_refuses_amount_change_after_approval():
    refund = make_refund(order=captured_order(), amount_minor=100)
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.filter(pk=refund.pk).update(amount_minor=50)


def test_database_trigger_and_fsm_know_the_same_edges():
    import importlib

    migration = importlib.import_module("refunds.migrations.0020_needs_action_and_provider_reversal")
    assert set(migration.EDGES) == {(str(a), str(b)) for a, b in ALLOWED_TRANSITIONS}


@pytest.mark.parametrize(("source", "target"), [(S.COMPLETED, S.FAILED), (S.FAILED, S.CANCELED)])
def test_database_accepts_the_issue_12_edges_from_raw_sql(source, target):
    refund = make_refund(order=captured_order(), amount_minor=100)
    for state in PATHS[source]:
        _force_state(refund, state)
    _force_state(refund, target)
    refund.refresh_from_db()
    assert refund.state == target
