"""Customer emails survive faults (issue 11 item 6): every email is sent, and once.

Real Celery workers send through Django's file backend (tests/support/mailbox.py),
so the test counts what reached the "mail server" across processes. The workers
consume this test session's own queues: what the test process queues when its
transaction commits goes to them. Each fault lost an email before the outbox:

* the broker loses the queued task (non-persistent Redis restarted);
* the process that committed the change dies before its on-commit callback;
* the database is unreachable when the task runs (a PostgreSQL restart).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

from audit.models import AuditEvent
from notifications.messages import MSG_DECLINED, MSG_REQUEST_ACCEPTED
from refunds.enums import Reason, RefundState
from refunds.models import Refund
from refunds.services.decide import refund_deny
from tests.refunds.factories import agent, make_refund
from tests.support.customer_states import customer_order
from tests.support.faults import TcpProxy
from tests.support.live import ROOT, CeleryWorker, app_env, delete_queues, wait_for
from tests.support.mailbox import mailbox_env, sent_messages

# Seconds, so a lost task is found within a test's patience (production: docs/operations.md).
FAST = {
    "EMAIL_SWEEP_SECONDS": "1",
    "EMAIL_REQUEUE_AFTER_SECONDS": "2",
    "EMAIL_LEASE_SECONDS": "20",
    "EMAIL_BACKOFF_BASE_SECONDS": "0.5",
    "EMAIL_BACKOFF_MAX_SECONDS": "2",
}


@pytest.fixture(autouse=True)
def _fast_email_settings(settings) -> None:
    """This process writes emails too (its transitions): their queued-task marker runs out as fast as the workers'."""
    for name, value in FAST.items():
        setattr(settings, name, float(value))


@pytest.fixture
def mailbox(tmp_path: Path) -> Path:
    directory = tmp_path / "mail"
    directory.mkdir()
    return directory


@pytest.fixture
def start_worker(transactional_db, tmp_path: Path, mailbox: Path) -> Iterator[Callable[..., CeleryWorker]]:
    """Start Celery workers on this session's queues, sending into `mailbox`; stopped before the flush."""
    namespace = settings.TEST_NAMESPACE
    delete_queues(namespace)  # what earlier tests of the session queued and nobody consumed
    started: list[CeleryWorker] = []

    def start(*, beat: bool, **env: str) -> CeleryWorker:
        worker = CeleryWorker(
            env=app_env(namespace=namespace, **mailbox_env(mailbox), **FAST, **env),
            schedule_dir=tmp_path,
            concurrency=1,
            beat=beat,
            name=f"mail{len(started) + 1}",
        )
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    delete_queues(namespace)


def requested_refund() -> Refund:
    """A refund waiting for review; its creation emails the customer MSG_REQUEST_ACCEPTED."""
    refund = make_refund(order=customer_order(), amount_minor=4250, reason=Reason.GOODWILL)
    assert refund.state == RefundState.REQUESTED
    return refund


def emails_recorded(refund: Refund) -> int:
    return AuditEvent.objects.filter(refund=refund, action="notification.sent").count()


def email_queue_length() -> int:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        return client.llen(settings.CELERY_EMAIL_QUEUE)
    finally:
        client.close()


def test_an_email_whose_queued_task_the_broker_lost_is_sent_by_the_sweeper(start_worker, mailbox):
    refund = requested_refund()
    refund_deny(refund_id=refund.pk, actor=agent("decliner"), note="Delivered and signed for.")
    assert email_queue_length() >= 1  # the tasks were queued on commit ...
    delete_queues(settings.TEST_NAMESPACE)  # ... and Redis restarts without them

    start_worker(beat=True)

    wait_for(lambda: emails_recorded(refund) == 2, timeout=90, message="both emails sent after the broker lost them")
    assert sent_messages(mailbox) == {MSG_REQUEST_ACCEPTED: 1, MSG_DECLINED: 1}


def test_an_email_is_sent_although_the_process_died_between_commit_and_its_on_commit_callback(start_worker, mailbox):
    refund = requested_refund()
    decliner = agent("decliner")
    # The decline commits, then the process is killed before any on-commit callback runs
    # (a gunicorn worker SIGKILLed by its timeout at that instant).
    script = f"""
import os
import django

django.setup()
from django.db import transaction
from core.actor import Actor
from django.contrib.auth import get_user_model
from refunds.services.decide import refund_deny

actor = Actor.for_user(get_user_model().objects.get(pk={decliner.user.pk}))
with transaction.atomic():
    transaction.on_commit(lambda: os._exit(9))  # first in line: nothing queued after it runs
    refund_deny(refund_id={refund.pk}, actor=actor, note="Delivered and signed for.")
"""
    died = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=app_env(namespace=settings.TEST_NAMESPACE, **FAST), timeout=120
    )
    assert died.returncode == 9
    assert Refund.objects.get(pk=refund.pk).state == RefundState.DENIED  # committed

    start_worker(beat=True)

    wait_for(lambda: emails_recorded(refund) == 2, timeout=90, message="the decline email despite the crash")
    assert sent_messages(mailbox) == {MSG_REQUEST_ACCEPTED: 1, MSG_DECLINED: 1}


def test_an_email_whose_task_met_a_database_outage_is_sent_once_the_database_is_back(start_worker, mailbox):
    db = settings.DATABASES["default"]
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)).start()
    try:
        url = f"postgres://{db['USER'] or 'postgres'}@127.0.0.1:{proxy.port}/{db['NAME']}"
        # No beat: the task itself must ride the outage out, not a sweeper after it.
        start_worker(beat=False, DATABASE_URL=url)
        refund = requested_refund()
        wait_for(lambda: emails_recorded(refund) == 1, timeout=60, message="the worker to send through the proxy")

        proxy.cut()  # PostgreSQL restarts: the worker's connection drops, new ones are turned away
        refund_deny(refund_id=refund.pk, actor=agent("decliner"), note="Delivered and signed for.")
        wait_for(lambda: proxy.refused >= 1, timeout=60, message="the email task to meet the outage")
        proxy.restore()

        wait_for(lambda: emails_recorded(refund) == 2, timeout=90, message="the decline email after the outage")
        assert sent_messages(mailbox) == {MSG_REQUEST_ACCEPTED: 1, MSG_DECLINED: 1}
    finally:
        proxy.stop()
