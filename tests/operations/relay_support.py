"""What the outbox relay tests share: relays running in threads, and Celery's publishing recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from unittest import mock

from celery.app.task import Task
from django.utils import timezone

from operations.relay import OutboxRelay
from tests.support.live import wait_for


class Published:
    """Every task published while recording: (task name, kwargs, when), from any thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, datetime]] = []
        self.lock = threading.Lock()

    def record(self, task, args=None, kwargs=None, **options) -> None:
        with self.lock:
            self.calls.append((task.name, dict(kwargs or {}), timezone.now()))

    def times(self, task_name: str, key: str, value: int) -> list[datetime]:
        with self.lock:
            return [at for name, kwargs, at in self.calls if name == task_name and kwargs.get(key) == value]

    def ids(self, task_name: str, key: str) -> list[int]:
        with self.lock:
            return [kwargs[key] for name, kwargs, _ in self.calls if name == task_name]


@contextmanager
def publishes_recorded() -> Iterator[Published]:
    published = Published()
    with mock.patch.object(Task, "apply_async", autospec=True, side_effect=published.record):
        yield published


@contextmanager
def relays_running(count: int = 1, *, poll_seconds: float = 60.0) -> Iterator[list[OutboxRelay]]:
    """`count` relays, each in a thread with its own connections, listening and past their first pass.

    The long poll interval makes a notification (or a due time) the only thing that wakes them within a test.
    """
    stop = threading.Event()
    relays = [OutboxRelay(poll_seconds=poll_seconds, stop=stop) for _ in range(count)]
    threads = [threading.Thread(target=relay.run, name=f"relay{i}", daemon=True) for i, relay in enumerate(relays)]
    for thread in threads:
        thread.start()
    try:
        wait_for(
            lambda: all(r.passes >= 1 and r.listener is not None and r.listener.connected for r in relays),
            timeout=30,
            message="the relays to listen and finish their first pass",
        )
        yield relays
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads), "a relay did not stop after its pass"
