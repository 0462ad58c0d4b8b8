"""A broker outage after COMMIT never turns an accepted refund into an error (issue 11, item 1).

The web process is a real gunicorn whose broker is a private redis-server
port: closed while the merchant creates and approves, opened later. What
the merchant sees is the committed answer (202 / 200), the outbox keeps the
intent, and the sweeper of a worker started once the broker is back delivers
each refund exactly once.
"""

from __future__ import annotations

import re

import pytest
import requests

from refunds.enums import OutboxStatus, RefundState, Role
from refunds.models import OutboxMessage, Refund
from tests.refunds.factories import api_key
from tests.support.faults import RedisServer
from tests.support.live import (
    ApiClient,
    CeleryWorker,
    GunicornServer,
    app_env,
    delete_cache_keys,
    new_namespace,
    own_simulator,
    stack_env,
    wait_for,
)
from tests.support.merchant import push_order, refund_body

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def enqueue_failures(url: str) -> float:
    """`task_enqueue_failed_total` for the delivery task, as the web process's /metrics shows it."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    match = re.search(r'^task_enqueue_failed_total\{task="refunds\.deliver_outbox"\} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@pytest.fixture
def broker() -> RedisServer:
    """A broker that is down until the test starts it (its port is reserved, nothing listens)."""
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def web(broker):
    namespace = new_namespace("nobroker")
    # One gunicorn worker: /metrics then shows the counters of the process that answered the requests.
    server = GunicornServer(env=app_env(namespace=namespace, CELERY_BROKER_URL=broker.url()), workers=1)
    server.start()
    yield server
    server.stop()
    delete_cache_keys(namespace)


def test_create_and_approval_answer_while_the_broker_is_down_and_are_delivered_once_it_is_back(broker, web, tmp_path):
    merchant = ApiClient(web.url, api_key("merchant"))
    checker = ApiClient(web.url, api_key("checker", role=Role.AGENT))
    order_id, payment_id = push_order(merchant, mode="ok", amount_minor=100000)

    created = merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(5000), **{"Idempotency-Key": "auto"})
    assert created.status_code == 202, created.text
    review = merchant.post(
        f"/v1/orders/{order_id}/refunds", refund_body(6000, reason="goodwill"), **{"Idempotency-Key": "review"}
    )
    assert review.status_code == 202, review.text
    approved = checker.post(f"/v1/refunds/{review.json()['refund_id']}/decision", {"decision": "approve"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == RefundState.APPROVED

    refund_ids = [created.json()["refund_id"], review.json()["refund_id"]]
    assert set(Refund.objects.filter(public_id__in=refund_ids).values_list("state", flat=True)) == {
        RefundState.APPROVED
    }
    assert OutboxMessage.objects.filter(refund__public_id__in=refund_ids, status=OutboxStatus.PENDING).count() == 2
    assert enqueue_failures(web.url) == 2

    # The broker comes back (empty: the tasks were never queued); a worker's sweeper finds the messages.
    broker.start()
    with own_simulator(tmp_path) as simulator:
        env = stack_env(
            namespace=new_namespace("sweeper"), CELERY_BROKER_URL=broker.url(), PROVIDER_API_BASE=simulator.url
        )
        worker = CeleryWorker(env=env, schedule_dir=tmp_path, concurrency=1)
        worker.start()
        try:
            wait_for(
                lambda: Refund.objects.filter(public_id__in=refund_ids, state=RefundState.COMPLETED).count() == 2,
                timeout=60,
                message="both refunds to be delivered by the sweeper",
            )
        finally:
            worker.stop()
            delete_cache_keys(env["TEST_NAMESPACE"])
        assert len(simulator.refunds_for(payment_id)) == 2
