"""The write batch (core.write_batch): writes wait, then reach PostgreSQL as one statement — never later
than anything that could see them, and never when a rollback undid them."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.write_batch import Write, insert_rows, update_row, write, writes_together
from refunds.models import Customer, Merchant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql_table():
    if connection.vendor != "postgresql":
        pytest.skip("the batch is PostgreSQL's (SQLite writers take their ORM path)")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE batch_test (id serial PRIMARY KEY, name text UNIQUE)")


def put(name: str, seen: list | None = None) -> None:
    done = None if seen is None else seen.extend
    write(Write([("insert", "INSERT INTO batch_test (name) VALUES (%s) RETURNING id, name")], [name], done))


def names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM batch_test ORDER BY id")
        return [name for (name,) in cursor.fetchall()]


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_writes_wait_and_go_as_one_statement_when_the_block_ends():
    seen: list[dict] = []
    with CaptureQueriesContext(connection) as queries, writes_together():
        put("a", seen)
        put("b", seen)
        assert statements(queries) == []
    [sql] = statements(queries)
    assert sql.startswith("WITH w0_insert AS (INSERT INTO batch_test") and "w1_insert" in sql
    assert [row["name"] for row in seen] == ["a", "b"]
    assert names() == ["a", "b"]


def test_outside_a_block_a_write_runs_at_once():
    put("a")
    assert names() == ["a"]


def test_any_other_statement_sends_the_waiting_writes_first():
    with writes_together():
        put("a")
        assert names() == ["a"]  # the read is a statement: the batch went before it
        put("b")
    assert names() == ["a", "b"]


def test_a_savepoint_rolled_back_drops_the_writes_made_inside_it():
    with writes_together():
        put("before")
        with pytest.raises(ValueError), transaction.atomic():
            put("inside")
            raise ValueError
        put("after")
    assert names() == ["before", "after"]


def test_a_savepoint_released_keeps_the_writes_made_inside_it():
    with writes_together():
        with transaction.atomic():
            put("inside")
        put("after")
    assert names() == ["inside", "after"]


def test_through_release_a_released_savepoint_sends_nothing_and_its_writes_wait_on():
    with CaptureQueriesContext(connection) as queries, writes_together(through_release=True):
        with transaction.atomic():
            put("inside")
        assert statements(queries) == [], "the RELEASE sent the batch"
        put("after")
    [sql] = statements(queries)
    assert "w1_insert" in sql
    assert sorted(names()) == ["after", "inside"]  # one statement: its parts in no set order


def test_through_release_a_rollback_to_an_older_savepoint_still_drops_what_a_released_one_left_waiting():
    with writes_together(through_release=True):
        put("before")
        with pytest.raises(ValueError), transaction.atomic():
            with transaction.atomic():
                put("released")
            raise ValueError
        put("after")
    assert sorted(names()) == ["after", "before"]


def test_leaving_the_block_by_an_exception_still_sends_what_was_written():
    """The caller may catch it and commit: what was written before the exception is written, as without a batch."""
    with pytest.raises(ValueError), writes_together():
        put("a")
        raise ValueError
    assert names() == ["a"]


def test_a_refused_write_raises_from_the_statement_that_sends_it_and_nothing_of_the_batch_stays():
    put("taken")
    with pytest.raises(IntegrityError), transaction.atomic(), writes_together():
        put("fresh")
        put("taken")  # the unique key refuses it: the whole statement fails
    assert names() == ["taken"]


def test_nested_blocks_join_the_outer_one():
    with CaptureQueriesContext(connection) as queries, writes_together():
        put("a")
        with writes_together():
            put("b")
        assert statements(queries) == []
    assert len(statements(queries)) == 1
    assert sorted(names()) == ["a", "b"]  # two writes of one statement: PostgreSQL runs them in any order


def test_insert_rows_sets_what_save_would_once_sent():
    merchant = Merchant.objects.get(slug="default")
    customers = [Customer(merchant=merchant, external_id=f"c-{n}", email=f"{n}@example.com") for n in range(2)]
    with writes_together():
        insert_rows(customers)
        assert all(c.pk is None and c._state.adding for c in customers)
        assert customers[0].created_at is not None  # auto_now_add, set when the INSERT is built
    assert all(c.pk is not None and not c._state.adding for c in customers)
    assert [c.external_id for c in Customer.objects.filter(pk__in=[c.pk for c in customers]).order_by("pk")] == [
        "c-0",
        "c-1",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_block_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside a transaction"), writes_together():
        pass


def test_rows_of_one_model_inserted_by_several_calls_get_ids_in_the_order_of_the_calls():
    merchant = Merchant.objects.get(slug="default")
    first, second, third = (Customer(merchant=merchant, external_id=f"o-{n}") for n in range(3))
    with CaptureQueriesContext(connection) as queries, writes_together():
        insert_rows([first])
        insert_rows([second, third])
    assert len(statements(queries)) == 1
    assert first.pk < second.pk < third.pk


def test_updating_a_row_twice_or_a_row_inserted_in_the_batch_sends_the_batch_first():
    merchant = Merchant.objects.get(slug="default")
    customer = Customer(merchant=merchant, external_id="u-1", name="one")
    with writes_together():
        insert_rows([customer])
        customer.name = "two"
        update_row(customer, ["name"])  # its INSERT is waiting: sent first, or the UPDATE would miss the row
        customer.email = "x@example.com"
        update_row(customer, ["email"])  # a second UPDATE of the row: sent apart, or one would be lost
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("two", "x@example.com")
