import threading
import time

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from api import idempotency, views
from api.idempotency import run_idempotent
from api.models import IdempotencyRecord
from core.errors import ERR_CONFLICT_IDEMPOTENCY, ERR_EXCEEDS_REMAINING
from refunds.models import Payment, Refund
from refunds.services.api_keys import api_key_create
from tests.api.conftest import create
from tests.refunds.factories import captured_order
from tests.support.partitions import clock_at, month_edges

pytestmark = pytest.mark.django_db


def test_same_key_same_body_replays_the_first_answer(merchant):
    order = captured_order(amount_minor=10000)
    first = create(merchant, order.order_id, key="abc", amount_minor=3000)
    second = create(merchant, order.order_id, key="abc", amount_minor=3000)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert first["Idempotency-Status"] == "created"
    assert second["Idempotency-Status"] == "replayed"
    assert Refund.objects.count() == 1


def test_same_key_other_body_is_409(merchant):
    order = captured_order(amount_minor=10000)
    create(merchant, order.order_id, key="abc", amount_minor=3000)
    response = create(merchant, order.order_id, key="abc", amount_minor=3001)
    assert response.status_code == 409
    assert response.json()["code"] == ERR_CONFLICT_IDEMPOTENCY
    assert Refund.objects.count() == 1


def test_keys_are_scoped_per_api_key(client_for):
    order = captured_order(amount_minor=10000)
    a, b = client_for("merchant-a"), client_for("merchant-b")
    assert create(a, order.order_id, key="same").status_code == 202
    assert create(b, order.order_id, key="same")["Idempotency-Status"] == "created"
    assert Refund.objects.count() == 2


def test_business_refusal_is_replayed_too(merchant):
    order = captured_order(amount_minor=1000)
    first = create(merchant, order.order_id, key="big", amount_minor=5000)
    second = create(merchant, order.order_id, key="big", amount_minor=5000)
    assert first.json()["code"] == ERR_EXCEEDS_REMAINING
    assert second.status_code == 400 and second["Idempotency-Status"] == "replayed"
    assert second.json() == first.json()


# --- across a month's end (issue 17) ------------------------------------------------------------------


def test_a_key_replayed_across_a_month_end_makes_one_refund(merchant):
    # The attack on monthly partitions: a unique key must hold the partition column, so a partitioned
    # table of records would refuse a key only within its month, and a retry a second past midnight
    # would refund twice. The records stay one table (docs/operations.md "Retention").
    order = captured_order(amount_minor=10000)
    last_second, first_second = month_edges()
    with clock_at(last_second):
        first = create(merchant, order.order_id, key="month-end", amount_minor=3000)
    with clock_at(first_second):
        second = create(merchant, order.order_id, key="month-end", amount_minor=3000)
    assert first.status_code == second.status_code == 202
    assert (first["Idempotency-Status"], second["Idempotency-Status"]) == ("created", "replayed")
    assert second.json() == first.json()
    assert Refund.objects.count() == 1
    assert IdempotencyRecord.objects.filter(key="month-end").count() == 1


def test_idempotency_records_stay_one_table_unique_per_api_key_and_key():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = 'api_idempotencyrecord'::regclass")
        assert cursor.fetchone()[0] == "r", "partitioned: read the test above before going on"
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'idempotency_unique_key_per_api_key'"
        )
        assert cursor.fetchone()[0] == "UNIQUE (api_key_id, key)"


# --- exactly once in the fewest statements (issue 17) -------------------------


def test_a_retry_replays_the_first_answer_even_when_the_payment_has_no_room_left(merchant):
    order = captured_order(amount_minor=10000)
    first = create(merchant, order.order_id, key="first", amount_minor=6000)
    assert create(merchant, order.order_id, key="rest", amount_minor=4000).status_code == 202
    retry = create(merchant, order.order_id, key="first", amount_minor=6000)
    assert (retry.status_code, retry["Idempotency-Status"]) == (202, "replayed")
    assert retry.json() == first.json()
    assert Refund.objects.count() == 2


def test_a_first_create_writes_its_record_once_with_the_answer(merchant):
    order = captured_order(amount_minor=10000)
    with CaptureQueriesContext(connection) as queries:
        response = create(merchant, order.order_id, key="once", amount_minor=3000)
    touching = [q["sql"] for q in queries.captured_queries if "api_idempotencyrecord" in q["sql"]]
    # The lookup rides on the API key's statement; the record is one INSERT, the transaction's last.
    assert "refunds_apikey" in touching[0]
    assert [sql.split()[0] for sql in touching[1:]] == ["INSERT"], touching
    # (The test's transaction holds this one: no COMMIT here, a savepoint released instead.)
    work = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"] and q["sql"] != "COMMIT"]
    assert work[-1].startswith('INSERT INTO "api_idempotencyrecord"')
    record = IdempotencyRecord.objects.get(key="once")
    assert (record.response_status, record.response_body) == (202, response.json())


def test_a_retry_costs_the_api_keys_statement_alone(merchant):
    order = captured_order(amount_minor=10000)
    first = create(merchant, order.order_id, key="cheap", amount_minor=3000)
    with CaptureQueriesContext(connection) as queries:
        retry = create(merchant, order.order_id, key="cheap", amount_minor=3000)
    assert retry.json() == first.json() and retry["Idempotency-Status"] == "replayed"
    assert len(queries.captured_queries) == 1, [q["sql"][:80] for q in queries.captured_queries]


def test_a_refusal_is_recorded_after_the_operations_writes_are_undone(merchant):
    order = captured_order(amount_minor=1000)
    refused = create(merchant, order.order_id, key="no-room", amount_minor=5000)
    assert refused.json()["code"] == ERR_EXCEEDS_REMAINING
    assert not Refund.objects.exists()
    record = IdempotencyRecord.objects.get(key="no-room")
    assert (record.response_status, record.response_body) == (400, refused.json())


def test_without_the_lookup_on_the_api_key_a_retry_still_replays(merchant, monkeypatch):
    """The demo's SQLite: the key is authenticated by the ORM and the record looked up in a statement of its own."""
    monkeypatch.setattr("api.auth._json_rows_supported", lambda: False)
    order = captured_order(amount_minor=10000)
    first = create(merchant, order.order_id, key="orm", amount_minor=6000)
    assert create(merchant, order.order_id, key="rest", amount_minor=4000).status_code == 202
    with CaptureQueriesContext(connection) as queries:
        retry = create(merchant, order.order_id, key="orm", amount_minor=6000)
    assert retry.json() == first.json() and retry["Idempotency-Status"] == "replayed"
    assert len(queries.captured_queries) == 2
    assert create(merchant, order.order_id, key="orm", amount_minor=1).json()["code"] == ERR_CONFLICT_IDEMPOTENCY


# --- two requests with one key at the same time: real threads, real PostgreSQL -----


def _at_once(monkeypatch, *requests):
    """Run the requests in threads that all pass the record lookup before any goes on: both miss it."""
    barrier = threading.Barrier(len(requests), timeout=30)
    looked_up = idempotency._recorded

    def lookup_then_wait(api_key, key):
        record = looked_up(api_key, key)
        barrier.wait()
        return record

    monkeypatch.setattr(idempotency, "_recorded", lookup_then_wait)
    answers: list = [None] * len(requests)

    def run(n: int) -> None:
        try:
            answers[n] = requests[n]()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_once_create_one_refund(client_for, monkeypatch):
    order = captured_order(amount_minor=10000)
    calls = []
    real_request = views.refund_request
    monkeypatch.setattr(views, "refund_request", lambda **kw: calls.append(1) or real_request(**kw))
    a = client_for("racer")
    b = APIClient()
    b.credentials(HTTP_AUTHORIZATION=a._credentials["HTTP_AUTHORIZATION"])

    answers = _at_once(
        monkeypatch,
        lambda: create(a, order.order_id, key="race", amount_minor=3000),
        lambda: create(b, order.order_id, key="race", amount_minor=3000),
    )

    assert [r.status_code for r in answers] == [202, 202]
    assert sorted(r["Idempotency-Status"] for r in answers) == ["created", "replayed"]
    assert answers[0].json() == answers[1].json()
    # Both ran the operation (neither found the record): the loser's refund was rolled back with its transaction.
    assert len(calls) == 2
    assert Refund.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    refund = Refund.objects.get()
    # The loser's reservation went with its rollback: the payment holds the winner's amount alone.
    assert Payment.objects.get(pk=refund.payment_id).refund_reserved_minor == 3000


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_and_other_bodies_at_once_one_is_refused(client_for, monkeypatch):
    order = captured_order(amount_minor=10000)
    a = client_for("racer")
    b = APIClient()
    b.credentials(HTTP_AUTHORIZATION=a._credentials["HTTP_AUTHORIZATION"])

    answers = _at_once(
        monkeypatch,
        lambda: create(a, order.order_id, key="race", amount_minor=3000),
        lambda: create(b, order.order_id, key="race", amount_minor=2000),
    )

    assert sorted(r.status_code for r in answers) == [202, 409]
    [refused] = [r for r in answers if r.status_code == 409]
    assert refused.json()["code"] == ERR_CONFLICT_IDEMPOTENCY
    assert Refund.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


def _waiting_on_a_lock() -> bool:
    """Is a session of this database (not another xdist worker's) waiting on a lock?

    A row lock wait is a `transactionid` lock, whose pg_locks row names no database: the
    session's own database comes from pg_stat_activity.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_claiming_operation_runs_once_while_its_twin_waits_on_the_key():
    """`claim_first` (files written outside the transaction): the twin waits on the key before doing anything."""
    api_key, _ = api_key_create(username="claimer", scopes=["refunds:create"])
    calls, started, answers = [], threading.Event(), {}

    def operation() -> tuple[int, dict]:
        calls.append(1)
        started.set()
        deadline = time.monotonic() + 20
        while not _waiting_on_a_lock() and time.monotonic() < deadline:
            time.sleep(0.02)
        return 201, {"n": len(calls)}

    def run(name: str) -> None:
        try:
            answers[name] = run_idempotent(
                api_key=api_key, key="k", fingerprint="f", operation=operation, claim_first=True
            )
        finally:
            connections.close_all()

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert started.wait(20)
    twin = threading.Thread(target=run, args=("twin",))
    twin.start()
    first.join(60)
    twin.join(60)

    assert len(calls) == 1
    assert answers["first"]["Idempotency-Status"] == "created"
    assert answers["twin"]["Idempotency-Status"] == "replayed"
    assert answers["twin"].data == answers["first"].data == {"n": 1}
