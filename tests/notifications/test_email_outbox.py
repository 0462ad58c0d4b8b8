"""The email outbox (issue 11 item 6): written with the transition, claimed once, retried, swept.

Fault tests with real worker processes are in tests/e2e/chaos/test_email_faults.py;
these run the delivery in this process, against the real PostgreSQL.
"""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from celery.app.task import Task
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection

from notifications.messages import MSG_DECLINED
from refunds.enums import Reason
from refunds.models import Refund
from refunds.services.decide import refund_deny
from tests.refunds.factories import agent, make_refund
from tests.support.customer_states import customer_order


def queued_email_tasks(run) -> list[tuple[Task, dict]]:
    """Run `run()` with Celery publishing recorded instead of sent; return the email tasks it queued."""
    queued: list[tuple[Task, dict]] = []

    def record(task, args=None, kwargs=None, **options):
        queued.append((task, kwargs or {}))

    with mock.patch.object(Task, "apply_async", autospec=True, side_effect=record):
        run()
    return [(task, kwargs) for task, kwargs in queued if "email" in task.name]


class GateBackend(LocmemBackend):
    """Holds the first send until the test opens the gate; later sends go straight through."""

    lock = threading.Lock()
    taken = False
    entered = threading.Event()
    gate = threading.Event()

    def send_messages(self, messages):
        with GateBackend.lock:
            first, GateBackend.taken = not GateBackend.taken, True
        if first:
            GateBackend.entered.set()
            assert GateBackend.gate.wait(60), "the test never opened the gate"
        return super().send_messages(messages)


@pytest.fixture
def gate(settings):
    settings.EMAIL_BACKEND = f"{__name__}.GateBackend"
    GateBackend.taken = False
    GateBackend.entered.clear()
    GateBackend.gate.clear()
    yield GateBackend
    GateBackend.gate.set()


def _in_thread(target) -> threading.Thread:
    def run():
        try:
            target()
        finally:
            connection.close()  # each thread has its own connection to the test database

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_same_email_send_it_once(gate):
    refund = make_refund(order=customer_order(), amount_minor=4250, reason=Reason.GOODWILL)
    [(task, kwargs)] = queued_email_tasks(
        lambda: refund_deny(refund_id=refund.pk, actor=agent("decliner"), note="Delivered and signed for.")
    )
    mail.outbox.clear()

    # Worker A is in the middle of handing the email to the mail server ...
    first = _in_thread(lambda: task.apply(kwargs=kwargs))
    assert gate.entered.wait(60), "worker A never reached the mail server"
    # ... when worker B gets the same task (a redelivery, a sweep) and runs it to the end.
    second = _in_thread(lambda: task.apply(kwargs=kwargs))
    second.join(60)
    assert not second.is_alive()
    gate.gate.set()
    first.join(60)
    assert not first.is_alive()

    assert [m.extra_headers["X-Refund-Message"] for m in mail.outbox] == [MSG_DECLINED]
    assert Refund.objects.get(pk=refund.pk).state == "denied"
