"""Running the real app as separate processes for HTTP-level and concurrency tests.

Every set of processes a test starts (one live server, one stack) gets a
namespace of its own: its Celery queues are `<namespace>`,
`<namespace>.provider`, `<namespace>.email`, `<namespace>.slack` and
`<namespace>.webhooks`, and its cache keys carry the
namespace as prefix (config/settings/test.py reads both from the
environment). So a worker consumes only the tasks of its own stack, never one
left behind by an earlier stack or sent by the test process, and a breaker
opened in one stack is not seen by the next one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import redis
import requests
from django.conf import settings

from tests.support.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

_namespaces = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_namespace(label: str) -> str:
    """A name no other process set of this or any other test session uses (the session's own is unique)."""
    return f"{settings.TEST_NAMESPACE}-{label}{next(_namespaces)}"


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def app_env(*, namespace: str, **extra: str) -> dict[str, str]:
    """The environment of an app process (web or worker) of the namespace on the test database."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=test_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        TEST_NAMESPACE=namespace,
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def queue_names(namespace: str) -> list[str]:
    """The queues config/settings/base.py derives from CELERY_TASK_DEFAULT_QUEUE."""
    return [namespace, f"{namespace}.provider", f"{namespace}.email", f"{namespace}.slack", webhooks_queue(namespace)]


def webhooks_queue(namespace: str) -> str:
    """The namespace's CELERY_WEBHOOKS_QUEUE: merchants' webhook deliveries (events.delivery)."""
    return f"{namespace}.webhooks"


def queued_messages(broker_url: str, namespace: str) -> int:
    """Tasks waiting in the namespace's queues on `broker_url` (Redis lists, or RabbitMQ queues' ready counts)."""
    if broker_url.startswith(("amqp://", "pyamqp://")):
        from tests.support.rabbitmq import amqp_queued

        return amqp_queued(broker_url, queue_names(namespace))
    client = redis.Redis.from_url(broker_url)
    try:
        return sum(client.llen(queue) for queue in queue_names(namespace))
    finally:
        client.close()


def delete_queues(namespace: str, broker_url: str | None = None) -> None:
    """Drop the namespace's queues from the broker, with whatever is still in them.

    Exact key names (kombu's Redis layout: one list per queue and priority
    step, two binding sets per exchange), so no other namespace is touched.
    A killed worker's unacknowledged messages go too: they sit in the
    broker's one `unacked` hash, and a worker of any session would put them
    back into these queues once their visibility timeout ran out.
    """
    broker_url = broker_url or settings.CELERY_BROKER_URL
    queues = queue_names(namespace)
    if broker_url.startswith(("amqp://", "pyamqp://")):
        from tests.support.rabbitmq import amqp_delete_queues

        amqp_delete_queues(broker_url, queues)
        return
    keys = [f"_kombu.binding.{namespace}", f"_kombu.binding_permanent.{namespace}"]
    for queue in queues:
        keys += [queue] + [f"{queue}\x06\x16{priority}" for priority in (3, 6, 9)]
    client = redis.Redis.from_url(broker_url)
    try:
        client.delete(*keys)
        for tag, raw in client.hscan_iter("unacked"):
            with contextlib.suppress(ValueError, TypeError):
                _, _, routing_key = json.loads(raw)
                if routing_key in queues:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
    finally:
        client.close()


def delete_cache_keys(namespace: str) -> None:
    """Delete every cache key of the namespace (Django prefixes each key with `<prefix>:`), and no other."""
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class GunicornServer:
    def __init__(self, *, env: dict[str, str], workers: int = 2, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workers = workers
        self.env = env
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "config.wsgi",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                "--log-level", "warning", "--graceful-timeout", "2",
            ],
            cwd=ROOT,
            env=self.env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not become healthy in 30 s")

    def terminate(self) -> None:
        """Ask for a graceful shutdown without waiting for it (see `stop`)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        self.terminate()
        if self.process:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class LiveApp:
    """The app under gunicorn in a namespace of its own, on the test database (no worker)."""

    def __init__(self, *, workers: int = 4) -> None:
        self.namespace = new_namespace("web")
        self.web = GunicornServer(env=app_env(namespace=self.namespace), workers=workers)
        self.url = self.web.url

    def start(self) -> LiveApp:
        self.web.start()
        return self

    def stop(self) -> None:
        self.web.stop()
        # What its requests queued (deliveries, emails) nobody consumes: it goes with the namespace.
        delete_queues(self.namespace)
        delete_cache_keys(self.namespace)


class ApiClient:
    """A small HTTP client for the API, as a merchant system would use it."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, path: str, body: dict, **headers: str) -> requests.Response:
        return self.session.post(self.base_url + path, json=body, headers=headers, timeout=30)

    def get(self, path: str, **headers: str) -> requests.Response:
        return self.session.get(self.base_url + path, headers=headers, timeout=30)


SIM_API_KEY = "sk_test_stack"
SIM_WEBHOOK_SECRET = "whsec_test_stack"


def stack_env(*, namespace: str, **extra: str) -> dict[str, str]:
    """Settings shared by the app processes of a test stack (web and workers); `extra` overrides any of them."""
    settings_ = dict(
        PROVIDER="stripe",
        PROVIDER_API_KEY=SIM_API_KEY,
        PROVIDER_WEBHOOK_SECRET=SIM_WEBHOOK_SECRET,
        PROVIDER_TIMEOUT_SECONDS="1.5",
        OUTBOX_BACKOFF_BASE_SECONDS="0.4",
        OUTBOX_BACKOFF_MAX_SECONDS="3",
        OUTBOX_MAX_ATTEMPTS="40",
        OUTBOX_LEASE_SECONDS="6",
        OUTBOX_SWEEP_SECONDS="1",
        # A short window and cooldown so an outage opens and closes the breaker within a test.
        BREAKER_WINDOW_SECONDS="10",
        BREAKER_MIN_CALLS="4",
        BREAKER_FAILURE_RATE="0.5",
        BREAKER_COOLDOWN_SECONDS="2",
        BREAKER_HALF_OPEN_CALLS="3",
        # A queued task not run 5 s after its countdown is taken as lost (a killed worker held it).
        OUTBOX_QUEUED_TTL_SECONDS="5",
    )
    settings_.update(extra)
    return app_env(namespace=namespace, **settings_)


def stack_simulator(directory: Path, *, webhook_url: str | None, stall: float = 3.0) -> Simulator:
    """A simulator speaking the stack's key and secret (not started)."""
    return Simulator(
        db_path=directory / "sim.sqlite3",
        api_key=SIM_API_KEY,
        webhook_secret=SIM_WEBHOOK_SECRET,
        webhook_url=webhook_url,
        stall=stall,
        async_delay=1.0,
        webhook_backoff=0.3,
    )


@contextlib.contextmanager
def own_simulator(directory: Path, *, stall: float = 3.0) -> Iterator[Simulator]:
    """A simulator process of a test module's own, without webhooks (the tests drive delivery)."""
    sim = stack_simulator(directory, webhook_url=None, stall=stall).start()
    try:
        yield sim
    finally:
        sim.stop()


def point_provider_at(settings, simulator: Simulator, *, timeout: float) -> None:
    """Make this process's provider client talk to `simulator` (pytest-django's `settings` fixture)."""
    settings.PROVIDER = "stripe"
    settings.PROVIDER_API_BASE = simulator.url
    settings.PROVIDER_API_KEY = SIM_API_KEY
    settings.PROVIDER_TIMEOUT_SECONDS = timeout


class CeleryWorker:
    """A real Celery worker process (with embedded beat for the sweeper).

    Without `queues` it consumes every queue of its namespace (CELERY_TASK_QUEUES)
    but those in `exclude_queues`; `pool` is Celery's `-P` (prefork when None).
    A webhooks worker is `queues=[webhooks_queue(ns)], pool="threads"`, as in
    production (docs/operations.md "Processes").
    """

    def __init__(
        self,
        *,
        env: dict[str, str],
        schedule_dir: Path,
        concurrency: int = 2,
        beat: bool = True,
        name: str = "w1",
        queues: list[str] | None = None,
        exclude_queues: list[str] | None = None,
        pool: str | None = None,
    ) -> None:
        self.env, self.concurrency, self.beat, self.name = env, concurrency, beat, name
        self.schedule_dir = schedule_dir
        self.queues, self.exclude_queues, self.pool = queues or [], exclude_queues or [], pool
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        args = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
            f"--concurrency={self.concurrency}",
            "-n", f"{self.name}.{self.env['TEST_NAMESPACE']}@%h", "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        if self.queues:
            args += ["-Q", ",".join(self.queues)]
        if self.exclude_queues:
            args += ["-X", ",".join(self.exclude_queues)]
        if self.pool:
            args += ["-P", self.pool]
        if self.beat:
            # Beat's schedule file belongs to this stack: a later stack starts its periodic tasks afresh.
            args += ["-B", "--schedule", str(self.schedule_dir / f"beat-{self.name}")]
        self.process = subprocess.Popen(args, cwd=ROOT, env=self.env, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the whole worker process group: a crash, not a shutdown."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=10)

    def terminate(self) -> None:
        """Ask for a warm shutdown without waiting for it (see `stop`)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        """Warm shutdown: the main process lets running tasks finish, then exits."""
        self.terminate()
        if self.process:
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class OutboxRelayProcess:
    """`manage.py outbox_relay` as deployed beside the workers when OUTBOX_HANDOFF=relay (operations.relay)."""

    def __init__(self, *, env: dict[str, str], directory: Path) -> None:
        self.env, self.directory = env, directory
        self.log_path, self.ready_file = directory / "relay.log", directory / "relay.ready"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start it and wait until it listens and made its first pass: from then on every commit wakes it."""
        self.ready_file.unlink(missing_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child writes to it
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "outbox_relay", "--ready-file", str(self.ready_file)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        process = self.process
        wait_for(
            lambda: self.ready_file.exists() or process.poll() is not None, timeout=30, message="the relay to listen"
        )
        if process.poll() is not None:
            raise RuntimeError(f"outbox_relay exited with {process.returncode}: {self.log_path.read_text()[-2000:]}")

    def terminate(self) -> None:
        """SIGTERM: the relay finishes its pass and exits 0 (see `stop`)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> int | None:
        self.terminate()
        if self.process:
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return None


def wait_for(
    predicate: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def wait_for_progress(
    measure: Callable[[], int], *, target: int, stall_timeout: float = 90.0, interval: float = 1.0, message: str
) -> None:
    """Wait until `measure()` reaches `target`, failing only when it stops moving for `stall_timeout`.

    For a test that checks where a large batch ends, not how fast it gets
    there: a fixed deadline on the whole batch fails on a loaded machine
    although every item is still moving (benchmarks/ measure speed).
    """
    value, moved_at = measure(), time.monotonic()
    while value < target:
        if time.monotonic() - moved_at > stall_timeout:
            raise AssertionError(f"{message}: stuck at {value}/{target} for {stall_timeout}s")
        time.sleep(interval)
        latest = measure()
        if latest != value:
            value, moved_at = latest, time.monotonic()
