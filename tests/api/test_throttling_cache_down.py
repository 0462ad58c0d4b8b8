"""Redis (the cache) down: the rate limiter lets requests through, logged and counted (issue 11, item 2).

The limit protects the service from a runaway client; PostgreSQL and the
outbox can take a create without Redis, so an outage of the cache must not
stop every create for its whole length. A real gunicorn whose cache is a
closed port of a private redis-server.
"""

from __future__ import annotations

import re

import pytest
import requests

from refunds.enums import OutboxStatus, RefundState
from refunds.models import OutboxMessage, Refund
from tests.refunds.factories import api_key
from tests.support.faults import RedisServer
from tests.support.live import ApiClient, GunicornServer, app_env, delete_queues, new_namespace
from tests.support.merchant import push_order, refund_body

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def fail_open_count(url: str, bucket: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text
    match = re.search(rf'^api_rate_limit_fail_open_total\{{bucket="{bucket}"\}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@pytest.fixture
def web_without_cache():
    """The app with its cache on a port where no Redis listens (the broker is the usual one)."""
    namespace = new_namespace("nocache")
    dead_cache = RedisServer()  # never started: its port is reserved, nothing answers
    env = app_env(namespace=namespace, REDIS_URL=dead_cache.url(), RATE_LIMIT_CREATE_PER_MINUTE="5")
    server = GunicornServer(env=env, workers=1)  # one process: /metrics shows the counters of the one that answered
    server.start()
    yield server
    server.stop()
    delete_queues(namespace)


def test_creates_and_decisions_are_accepted_while_the_cache_is_down(web_without_cache):
    url = web_without_cache.url
    merchant = ApiClient(url, api_key("merchant"))
    order_id, _ = push_order(merchant, amount_minor=100000)

    created = merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(1000), **{"Idempotency-Key": "one"})
    assert created.status_code == 202, created.text
    refund = Refund.objects.get(public_id=created.json()["refund_id"])
    assert refund.state == RefundState.APPROVED
    assert OutboxMessage.objects.filter(refund=refund, status=OutboxStatus.PENDING).exists()
    assert fail_open_count(url, "create") == 1

    replay = merchant.post(f"/v1/orders/{order_id}/refunds", refund_body(1000), **{"Idempotency-Key": "one"})
    assert replay.status_code == 202 and replay.json()["refund_id"] == refund.public_id
    assert Refund.objects.filter(payment__order__order_id=order_id).count() == 1
