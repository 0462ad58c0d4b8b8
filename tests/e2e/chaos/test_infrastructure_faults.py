"""Infrastructure faults while merchants create refunds (issue 11): answers stay truthful, nothing is lost.

Each test runs a whole stack (gunicorn, Celery worker with beat, simulator
with webhooks) whose broker and cache are private Redis servers, whose
database is reached through a cuttable proxy and whose emails go to an SMTP
sink, then breaks one of them while refunds are asked for. Afterwards:

* a refund that was committed was answered 202 (a fault never turns it into
  an error); a request the fault did stop is 503 `ERR.UNAVAILABLE` with
  `Retry-After`, and its retry with the same key is answered;
* every refund completes, once at the provider; no payment is over-refunded;
  the ledger balances; the outbox drains;
* each customer email (approved, completed) is sent exactly once;
* the audit chain verifies.
"""

from __future__ import annotations

import collections
import email
import email.policy
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.db.models import Sum

from ledger.services import trial_balance
from refunds.enums import OutboxStatus, RefundState
from refunds.models import OutboxMessage, Payment, Refund
from tests.refunds.factories import api_key
from tests.support.faults import RedisServer, SmtpSink, TcpProxy
from tests.support.live import ApiClient, wait_for, wait_for_progress
from tests.support.merchant import push_order, refund_body
from tests.support.stack import Stack


@dataclass
class FaultyStack:
    stack: Stack
    broker: RedisServer
    cache: RedisServer
    database: TcpProxy
    smtp: SmtpSink
    client: ApiClient

    def emails(self) -> collections.Counter:
        """(order id, message id) -> how many times the sink got that email."""
        counts: collections.Counter = collections.Counter()
        for raw in list(self.smtp.messages):
            message = email.message_from_bytes(raw, policy=email.policy.default)
            match = re.search(r"· (\S+)$", str(message["Subject"] or ""))
            if match:
                counts[(match.group(1), str(message["X-Refund-Message"]))] += 1
        return counts

    def web_worker_pids(self) -> list[int]:
        assert self.stack.web is not None and self.stack.web.process is not None
        out = subprocess.run(["pgrep", "-P", str(self.stack.web.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]


@pytest.fixture
def faulty(transactional_db, django_db_setup, tmp_path):
    db = settings.DATABASES["default"]
    broker = RedisServer(tmp_path / "broker", name="broker").start()
    cache = RedisServer(tmp_path / "cache", name="cache").start()
    database = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)).start()
    smtp = SmtpSink().start()
    stack = Stack(
        worker_concurrency=2,
        extra_env={
            "CELERY_BROKER_URL": broker.url(0),
            "REDIS_URL": cache.url(0),
            "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@127.0.0.1:{database.port}/{db['NAME']}",
            "TEST_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
        },
    )
    try:
        stack.start()
        yield FaultyStack(stack, broker, cache, database, smtp, ApiClient(stack.url, api_key("chaos-merchant")))
    finally:
        stack.stop()
        for part in (broker, cache, database, smtp):
            part.stop()


def _create(client: ApiClient, order_id: str) -> requests.Response | None:
    """One create as a merchant system sends it; None when no answer came back at all."""
    try:
        return client.post(
            f"/v1/orders/{order_id}/refunds", refund_body(1000), **{"Idempotency-Key": f"create-{order_id}"}
        )
    except requests.ConnectionError:
        return None


def _create_until_answered(client: ApiClient, order_id: str) -> str:
    """What a merchant does after a 503 or no answer: the same request, with the same key, until answered."""
    response = wait_for(
        lambda: (r := _create(client, order_id)) is not None and r.status_code == 202 and r,
        timeout=60,
        interval=0.5,
        message=f"the create for {order_id} to be answered",
    )
    return response.json()["refund_id"]


def _assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "ERR.UNAVAILABLE"
    assert int(response.headers["Retry-After"]) > 0


def _assert_converged(faulty: FaultyStack, orders: list[tuple[str, str]]) -> None:
    order_ids = [order_id for order_id, _ in orders]
    refunds = Refund.objects.filter(order__order_id__in=order_ids)
    wait_for_progress(
        lambda: refunds.filter(state=RefundState.COMPLETED).count(),
        target=len(orders),
        stall_timeout=60,
        message="every refund to complete",
    )
    assert refunds.count() == len(orders)  # one per order: no retry made a second one
    for _, payment_id in orders:
        assert len(faulty.stack.simulator.refunds_for(payment_id)) == 1
    for payment in Payment.objects.filter(order__order_id__in=order_ids):
        refunded = payment.refunds.exclude(state__in=["failed", "canceled", "denied"]).aggregate(s=Sum("amount_minor"))
        assert refunded["s"] <= payment.amount_minor
    assert set(trial_balance().values()) <= {0}
    wait_for(
        lambda: not OutboxMessage.objects.filter(refund__in=refunds, status=OutboxStatus.PENDING).exists(),
        timeout=30,
        message="the outbox to drain",
    )
    assert not OutboxMessage.objects.filter(refund__in=refunds, status=OutboxStatus.DEAD).exists()
    expected = {(order_id, message) for order_id in order_ids for message in ("refund.approved", "refund.completed")}
    wait_for_progress(
        lambda: sum(1 for item in expected if faulty.emails()[item]),
        target=len(expected),
        stall_timeout=60,
        message="every customer email to be sent",
    )
    sent = faulty.emails()
    assert {item: sent[item] for item in expected if sent[item] != 1} == {}  # each exactly once
    call_command("verify_audit")  # raises CommandError on any break


def _during(
    faulty: FaultyStack, fault: Callable[[], None], recover: Callable[[], None], *, orders: int = 4
) -> tuple[list[tuple[str, str]], list[requests.Response | None]]:
    """Push orders while healthy, break something, ask for refunds, mend it; the answers the creates got."""
    pushed = [push_order(faulty.client, amount_minor=10000) for _ in range(orders)]
    fault()
    try:
        answers = [_create(faulty.client, order_id) for order_id, _ in pushed]
    finally:
        recover()
    return pushed, answers


def test_broker_down_creates_are_answered_202_and_delivered_after(faulty):
    orders, answers = _during(faulty, faulty.broker.kill, faulty.broker.start)

    assert [answer.status_code for answer in answers] == [202] * len(orders), [a.text for a in answers]
    _assert_converged(faulty, orders)


def test_cache_down_creates_are_answered_202_and_delivered(faulty):
    orders, answers = _during(faulty, faulty.cache.kill, faulty.cache.start)

    assert [answer.status_code for answer in answers] == [202] * len(orders), [a.text for a in answers]
    _assert_converged(faulty, orders)


def test_database_restart_answers_503_then_the_retry_is_served(faulty):
    # One refund already on its way when the database goes: it must still complete, its emails go once.
    first_order = push_order(faulty.client, amount_minor=10000)
    assert _create(faulty.client, first_order[0]).status_code == 202

    orders, answers = _during(faulty, faulty.database.cut, faulty.database.restore)

    for answer in answers:
        _assert_unavailable(answer)
    for order_id, _ in orders:
        _create_until_answered(faulty.client, order_id)
    _assert_converged(faulty, [first_order, *orders])


def test_web_worker_killed_mid_traffic_loses_nothing(faulty):
    orders = [push_order(faulty.client, amount_minor=10000) for _ in range(8)]
    answers: dict[str, requests.Response | None] = {}

    def create(order_id: str) -> None:
        answers[order_id] = _create(faulty.client, order_id)

    threads = [threading.Thread(target=create, args=(order_id,)) for order_id, _ in orders]
    for n, thread in enumerate(threads):
        thread.start()
        if n == 3:
            os.kill(faulty.web_worker_pids()[0], signal.SIGKILL)  # gunicorn's master starts another
    for thread in threads:
        thread.join()

    # A request the killed worker held gets no answer (or a 5xx); its retry with the same key is served once.
    for order_id, _ in orders:
        answer = answers[order_id]
        if answer is None or answer.status_code != 202:
            _create_until_answered(faulty.client, order_id)
    _assert_converged(faulty, orders)


def test_celery_worker_killed_and_replaced_loses_nothing(faulty):
    orders = [push_order(faulty.client, amount_minor=10000) for _ in range(4)]
    faulty.stack.workers[0].kill()
    answers = [_create(faulty.client, order_id) for order_id, _ in orders]
    faulty.stack.add_worker(beat=True)

    assert [answer.status_code for answer in answers] == [202] * len(orders)
    _assert_converged(faulty, orders)
