"""One synthetic run at a time (issue 16, attack test first): two tasks started together make one run.

A read ("is a run in progress?") then a write (start one) with nothing between them let two tasks
that start together (two beat processes during a deploy, a task redelivered while the first still
runs, an operator's `manage.py synthetic_refund` beside beat's) both run: two test payments, two
refunds, racing for the same worker slots. The run's advisory lock (operations.synthetic
`synthetic_run_lock`) lets one run and the other skip.

The provider here is a test-mode key at an address that accepts and never answers, so each run
stays in its first step (the test payment) for the provider timeout: long enough to overlap.
"""

from __future__ import annotations

import socket
import threading

import pytest
from django.db import connections

from operations.models import SyntheticRun
from operations.tasks import synthetic_refund

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def silent_test_provider(settings):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    settings.PROVIDER = "stripe"
    settings.SYNTHETIC_PROVIDER = ""
    settings.PROVIDER_API_BASE = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.PROVIDER_API_KEY = "sk_test_" + "x" * 24
    settings.PROVIDER_TIMEOUT_SECONDS = 3.0
    settings.SYNTHETIC_STEP_TIMEOUT_SECONDS = 1.0
    yield
    listener.close()


def _two_tasks_at_once() -> list[BaseException]:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def task() -> None:
        try:
            barrier.wait()
            synthetic_refund()
        except BaseException as exc:  # noqa: BLE001 - shown by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=task) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_two_tasks_started_together_make_one_run(silent_test_provider):
    # The window is a few milliseconds wide: a few rounds make the race show (one round often does).
    for round_ in range(5):
        before = SyntheticRun.objects.count()
        assert not _two_tasks_at_once()
        made = SyntheticRun.objects.count() - before
        assert made == 1, f"round {round_}: {made} synthetic runs started at once"
