"""RabbitMQ as the Celery broker (docs/operations.md "Choosing a broker"): the same stack, the same guarantees.

The stack's web and worker processes publish to and consume from a RabbitMQ
virtual host of the test's own (tests/support/rabbitmq.py); the test process
reads the database and the simulator as usual. Then RabbitMQ goes away
behind a cuttable proxy while refunds are asked for: each is still answered
202 at once (the publish fails fast and is counted, core.queueing), /readyz
says the broker is down, and once it is back the outbox sweeper hands the
messages to the worker, which reconnected: each refund completes, once.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from ledger.services import trial_balance
from refunds.enums import RefundState
from tests.refunds.factories import api_key
from tests.support.faults import TcpProxy
from tests.support.live import ApiClient, wait_for
from tests.support.merchant import push_order, refund_body, wait_state
from tests.support.rabbitmq import RabbitVhost
from tests.support.stack import Stack


def _through(proxy: TcpProxy, url: str) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}"))


@pytest.fixture
def rabbit(transactional_db, django_db_setup, rabbitmq_vhost: RabbitVhost):
    """A stack on RabbitMQ, reached through a proxy the test can cut; stopped before the flush."""
    parts = urlsplit(rabbitmq_vhost.url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672).start()
    stack = Stack(worker_concurrency=2, extra_env={"CELERY_BROKER_URL": _through(proxy, rabbitmq_vhost.url)})
    try:
        stack.start()
        yield stack, proxy
    finally:
        stack.stop()
        proxy.stop()


def _readyz(stack: Stack) -> tuple[int, dict]:
    response = requests.get(f"{stack.url}/readyz", timeout=10)
    return response.status_code, response.json()


def test_a_refund_completes_with_rabbitmq_as_the_broker(rabbit):
    stack, proxy = rabbit
    merchant = ApiClient(stack.url, api_key("rabbit-merchant"))
    order_id, payment_id = push_order(merchant, amount_minor=10000)

    created = merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(10000), **{"Idempotency-Key": "rabbit-1"})
    assert created.status_code == 202, created.text
    assert created.json()["state"] == RefundState.APPROVED

    refund = wait_state(merchant, created.json()["refund_id"], {RefundState.COMPLETED})
    assert [r["id"] for r in stack.simulator.refunds_for(payment_id)] == [refund["provider_refund_id"]]
    assert set(trial_balance().values()) <= {0}
    status, body = _readyz(stack)
    assert (status, body["checks"]["broker"]) == (200, "ok")
    assert proxy.connections > 0  # the stack's processes talked AMQP to RabbitMQ (through the proxy)
    stack.wait_idle()  # counts the stack's RabbitMQ queues: nothing left in them


def test_rabbitmq_down_creates_are_answered_at_once_and_delivered_once_it_is_back(rabbit):
    stack, proxy = rabbit
    merchant = ApiClient(stack.url, api_key("rabbit-merchant"))
    orders = [push_order(merchant, amount_minor=3000) for _ in range(3)]

    proxy.cut()
    answers, slowest = [], 0.0
    for order_id, _ in orders:
        started = time.monotonic()
        answers.append(
            merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(3000), **{"Idempotency-Key": order_id})
        )
        slowest = max(slowest, time.monotonic() - started)
    assert [answer.status_code for answer in answers] == [202] * len(orders), [a.text for a in answers]
    # Bounded by the broker timeouts (config/settings/base.py), not by RabbitMQ coming back.
    assert slowest < 10, f"a create waited {slowest:.1f}s on a broker that is down"
    status, body = _readyz(stack)
    assert status == 503 and body["problems"] == ["broker"]

    proxy.restore()
    for answer, (_, payment_id) in zip(answers, orders, strict=True):
        refund = wait_state(merchant, answer.json()["refund_id"], {RefundState.COMPLETED}, timeout=90)
        assert [r["id"] for r in stack.simulator.refunds_for(payment_id)] == [refund["provider_refund_id"]]
    wait_for(lambda: _readyz(stack)[0] == 200, timeout=30, message="/readyz to see the broker back")
