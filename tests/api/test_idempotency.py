import pytest
from django.db import connection

from api.models import IdempotencyRecord
from core.errors import ERR_CONFLICT_IDEMPOTENCY, ERR_EXCEEDS_REMAINING
from refunds.models import Refund
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
