"""A whole stack with DATABASE_REPLICA_URL: the settings wire the replica from the environment, as in production.

The "replica" is the test database reached by sessions that refuse every write
(`default_transaction_read_only=on`) and name themselves (`application_name`),
so the test can see the stack's processes reading there while every refund is
still created, delivered and settled: any write or lock sent to the replica
would have failed the flow. tests/core/test_read_replica.py covers each screen.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from django.db import connection

from refunds.enums import RefundState
from tests.refunds.factories import api_key
from tests.support import live
from tests.support.databases import READ_ONLY
from tests.support.live import ApiClient
from tests.support.merchant import push_order, refund_body, wait_state
from tests.support.stack import Stack

REPLICA_NAME = "rd-test-replica"


@pytest.fixture
def replicated(transactional_db, django_db_setup):
    replica_url = f"{live.test_database_url()}?application_name={REPLICA_NAME}&options={quote(READ_ONLY)}"
    stack = Stack(worker_concurrency=2, extra_env={"DATABASE_REPLICA_URL": replica_url}).start()
    try:
        yield stack
    finally:
        stack.stop()


def replica_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [REPLICA_NAME])
        return cursor.fetchone()[0]


def test_refunds_complete_and_the_status_page_reads_the_read_only_replica(replicated):
    merchant = ApiClient(replicated.url, api_key("replicated-merchant"))
    order_id, payment_id = push_order(merchant, amount_minor=10000)

    created = merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(4000), **{"Idempotency-Key": "replica-1"})
    assert created.status_code == 202, created.text
    refund = wait_state(merchant, created.json()["refund_id"], {RefundState.COMPLETED})
    assert [r["id"] for r in replicated.simulator.refunds_for(payment_id)] == [refund["provider_refund_id"]]
    assert replica_sessions() == 0  # the API, the worker and the webhooks never opened the replica

    page = requests.get(refund["status_url"], timeout=10)
    assert page.status_code == 200
    assert refund["refund_id"] in page.text
    assert replica_sessions() >= 1  # the status page read it (and kept its connection, DB_CONN_MAX_AGE)
