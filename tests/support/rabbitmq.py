"""RabbitMQ as the Celery broker of a test stack: a virtual host per test, so nothing is shared.

The tests' RabbitMQ answers at RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672).
Each test gets a vhost of its own (`rabbitmqctl add_vhost`), its queues and
exchanges inside it, and the vhost is deleted afterwards with whatever is
left in it. Where rabbitmqctl cannot be run (not root, no Erlang cookie) the
test falls back to the default vhost: its queue and exchange names are the
stack's namespace (tests/support/live.py) and so its own anyway, and they are
deleted one by one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
from kombu import Connection

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")


def rabbitmq_reachable(url: str = RABBITMQ_URL) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=2):
            return True
    except OSError:
        return False


def _rabbitmqctl(*args: str) -> bool:
    binary = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    if not os.access(binary, os.X_OK):
        return False
    result = subprocess.run([binary, "-q", *args], capture_output=True, text=True, timeout=60)
    return result.returncode == 0


class RabbitVhost:
    """A virtual host of one test (or "/" when vhosts cannot be made here)."""

    def __init__(self, *, base_url: str = RABBITMQ_URL) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = f"refunds-test-{uuid.uuid4().hex[:10]}"
        self.user = urlsplit(self.base_url).username or "guest"
        self.own = False

    @property
    def url(self) -> str:
        return f"{self.base_url}/{quote(self.name, safe='') if self.own else ''}"

    def create(self) -> RabbitVhost:
        self.own = _rabbitmqctl("add_vhost", self.name) and _rabbitmqctl(
            "set_permissions", "-p", self.name, self.user, ".*", ".*", ".*"
        )
        if not self.own:
            _rabbitmqctl("delete_vhost", self.name)
        return self

    def delete(self, *, queues: list[str] = ()) -> None:
        if self.own:
            _rabbitmqctl("delete_vhost", self.name)
            return
        amqp_delete_queues(self.url, queues)


def amqp_queued(url: str, queues: list[str]) -> int:
    """Messages ready in `queues` (a queue not declared yet holds none); reserved ones are the worker's."""
    total = 0
    with Connection(url, connect_timeout=5) as conn:
        for queue in queues:
            channel = conn.channel()
            try:
                _, count, _ = channel.queue_declare(queue=queue, passive=True)
                total += count
            except conn.channel_errors:  # NOT_FOUND: never declared
                pass
            finally:
                try:
                    channel.close()
                except conn.connection_errors + conn.channel_errors:
                    pass
    return total


def amqp_delete_queues(url: str, queues: list[str]) -> None:
    with Connection(url, connect_timeout=5) as conn:
        for queue in queues:
            channel = conn.channel()
            try:
                channel.queue_delete(queue=queue)
            except conn.channel_errors:
                pass
            finally:
                try:
                    channel.close()
                except conn.connection_errors + conn.channel_errors:
                    pass


@pytest.fixture
def rabbitmq_vhost() -> Iterator[RabbitVhost]:
    """A RabbitMQ vhost for this test alone; the run stops with a message when RabbitMQ does not answer."""
    if not rabbitmq_reachable():
        pytest.fail(f"RabbitMQ does not answer at {urlsplit(RABBITMQ_URL).netloc.split('@')[-1]} (set RABBITMQ_URL)")
    vhost = RabbitVhost().create()
    yield vhost
    vhost.delete()
