"""Issue 16: the metrics are right with two gunicorn workers and two Celery prefork children.

Every app process of the stack shares one PROMETHEUS_MULTIPROC_DIR, as on a
production host. N refunds are created over HTTP (auto-approved, sent by a
Celery child, completed by the provider's answer, confirmed by its webhook to
gunicorn); then /metrics is scraped several times, each on a new connection
so either gunicorn worker may answer, and every answer must show the same
totals: decisions observed in the web workers, settlements, outbox attempts
and provider calls observed in the Celery children, webhook lag in the web.
"""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.live import wait_for
from tests.support.merchant import create_refund, push_order, wait_state
from tests.support.stack import Stack

N = 5
SCRAPES = 8


@pytest.fixture(scope="module")
def metrics_dir(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("prometheus-multiproc")


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, metrics_dir):
    """This module's stack: web and workers write their metrics to one fresh multiprocess directory."""
    running = Stack(
        web_workers=2, worker_concurrency=2, extra_env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    ).start()
    yield running
    running.stop()


def scrape(url: str) -> list:
    """One scrape on a connection of its own (no keep-alive: the next may land on the other worker)."""
    response = requests.get(f"{url}/metrics", headers={"Connection": "close"}, timeout=10)
    assert response.status_code == 200, response.text
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def total(samples: list, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        sample.value
        for sample in samples
        if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
    )


def figures(samples: list) -> dict[str, float]:
    return {
        "decided_by_policy": total(samples, "refund_decision_seconds_count", decided_by="policy", outcome="approved"),
        "completed": total(samples, "refund_settlement_seconds_count", outcome="completed"),
        "creates": total(samples, "http_request_duration_seconds_count", route="api:order-refunds", method="POST"),
        "sent": total(samples, "outbox_delivery_attempts_total", outcome="sent"),
        "provider_calls": total(samples, "provider_request_seconds_count", operation="execute_refund", outcome="ok"),
        "pending": total(samples, "outbox_pending_messages"),
        "webhook_lag": total(samples, "provider_webhook_lag_seconds_count"),
    }


def test_metrics_of_every_process_reach_every_scrape(stack, stack_merchant, metrics_dir):
    refund_ids = []
    for _ in range(N):
        order_id, _payment_id = push_order(stack_merchant, mode="ok", amount_minor=5000)
        refund_ids.append(create_refund(stack_merchant, order_id, amount_minor=5000))
    for refund_id in refund_ids:
        wait_state(stack_merchant, refund_id, {"completed"})

    # The simulator's webhooks confirm each refund; wait until every one has been handled.
    wait_for(lambda: figures(scrape(stack.url))["webhook_lag"] >= N, timeout=30, message="the webhooks to be handled")
    seen = [figures(scrape(stack.url)) for _ in range(SCRAPES)]

    # Every process wrote its own files (two gunicorn workers, the Celery parent and its children, beat) …
    assert len({path.name.rsplit("_", 1)[-1] for path in metrics_dir.glob("*.db")}) >= 4
    # … and whichever worker answered, the scrape summed them all to the same totals.
    assert all(figures == seen[0] for figures in seen), seen
    first = seen[0]
    assert first["decided_by_policy"] == N  # observed in the gunicorn workers, after the create's commit
    assert first["completed"] == N  # where the provider's news landed first: a Celery child, or the webhook
    assert first["sent"] == N  # observed in the Celery children only
    assert first["provider_calls"] == N  # likewise
    assert first["creates"] == N
    assert first["pending"] == 0
    assert first["webhook_lag"] >= N
