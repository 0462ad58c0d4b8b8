"""A move's writes reach PostgreSQL as one statement (core.write_batch), its history row as simple-history's.

`refund_transition` opens a write batch of its own (or joins the caller's):
the refund's UPDATE, its history row, the ledger entry, the audit event and
what the receivers of `refund_changing` write (the merchant's event, the
customer's email, the outbox) wait and go together. Before, each was a round
trip: a move to `submitting` was 7 statements, now 5.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.actor import Actor
from refunds.enums import RefundState
from refunds.models import Refund
from refunds.services.transition import refund_lock, refund_transition, refund_update
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db
S = RefundState
SYSTEM = Actor.system("test")


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the batch is PostgreSQL's (SQLite takes the ORM path)")


def approved() -> Refund:
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=1000)
    assert refund.state == S.APPROVED
    return refund


def test_a_moves_writes_go_as_one_statement():
    refund = approved()
    with transaction.atomic():
        locked, payment = refund_lock(refund_id=refund.pk)
        with CaptureQueriesContext(connection) as queries:
            refund_transition(locked, payment=payment, to=S.SUBMITTING, actor=SYSTEM)
    written = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    first, *_ = batches = [sql for sql in written if sql.startswith("WITH ")]
    for part in ('UPDATE "refunds_refund"', 'INSERT INTO "refunds_historicalrefund"', '"audit_auditevent"'):
        assert part in first, part
    # The merchant's event renders the refund as GET shows it: its decisions, ledger entries and lines are
    # read (each a statement, which sends what waits), then the event and the rest go in a second batch.
    assert "events_eventsequence" in batches[-1]
    assert len(written) <= 5, [sql[:80] for sql in written]  # 7, one by one, before (issue 17)


def test_the_history_row_of_a_move_is_simple_historys():
    refund = approved()
    with transaction.atomic():
        locked, payment = refund_lock(refund_id=refund.pk)
        refund_transition(locked, payment=payment, to=S.SUBMITTING, actor=SYSTEM)
    refund = Refund.objects.get(pk=refund.pk)
    latest = refund.history.order_by("-history_id").first()
    assert latest.history_type == "~" and latest.history_user is None and latest.history_change_reason is None
    tracked = [f.attname for f in type(latest).tracked_fields]
    assert {name: getattr(latest, name) for name in tracked} == {name: getattr(refund, name) for name in tracked}
    assert [v.state for v in refund.history.order_by("history_id")] == [S.APPROVED, S.SUBMITTING]


def test_an_update_that_changes_no_row_raises_as_save_does():
    refund = approved()
    with pytest.raises(DatabaseError), transaction.atomic():
        Refund.objects.filter(pk=refund.pk).delete()
        refund.customer_note = "gone"
        refund_update(refund, ["customer_note", "updated_at"])
        connection.cursor().execute("SELECT 1")  # the batch is sent before the next statement


def test_outside_a_transaction_the_update_is_saves():
    refund = approved()
    refund.customer_note = "edited"
    refund_update(refund, ["customer_note", "updated_at"])
    assert Refund.objects.get(pk=refund.pk).customer_note == "edited"
    assert refund.history.order_by("-history_id").first().customer_note == "edited"
