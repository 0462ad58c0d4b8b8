"""Running the real app as separate processes for HTTP-level and concurrency tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def app_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=test_database_url(),
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


class GunicornServer:
    def __init__(self, *, workers: int = 2, port: int | None = None, **env: str) -> None:
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
            env=self.env if "DATABASE_URL" in self.env else app_env(**self.env),
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not become healthy in 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


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


def stack_env(**extra: str) -> dict[str, str]:
    """Settings shared by every process of a test stack (web, worker, simulator)."""
    return app_env(
        PROVIDER="stripe",
        PROVIDER_API_KEY=SIM_API_KEY,
        PROVIDER_WEBHOOK_SECRET=SIM_WEBHOOK_SECRET,
        PROVIDER_TIMEOUT_SECONDS="1.5",
        OUTBOX_BACKOFF_BASE_SECONDS="0.4",
        OUTBOX_BACKOFF_MAX_SECONDS="3",
        OUTBOX_MAX_ATTEMPTS="40",
        OUTBOX_LEASE_SECONDS="6",
        OUTBOX_SWEEP_SECONDS="1",
        BREAKER_FAILURE_THRESHOLD="4",
        BREAKER_COOLDOWN_SECONDS="2",
        CELERY_BROKER_URL=os.environ["CELERY_BROKER_URL"],
        CELERY_TASK_DEFAULT_QUEUE=os.environ["CELERY_TASK_DEFAULT_QUEUE"],
        **extra,
    )


class Simulator:
    """The provider simulator process on a fixed port, restartable on the same state file."""

    def __init__(self, *, port: int, db_path: Path, webhook_url: str, stall: float = 3.0) -> None:
        self.port, self.db_path, self.webhook_url, self.stall = port, db_path, webhook_url, stall
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "devtools.stripe_sim.server", "--port", str(self.port),
                "--db", str(self.db_path), "--webhook-url", self.webhook_url,
                "--webhook-secret", SIM_WEBHOOK_SECRET, "--api-key", SIM_API_KEY,
                "--stall", str(self.stall), "--async-delay", "1", "--webhook-backoff", "0.3",
            ],
            cwd=ROOT, env=app_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/_sim/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("simulator did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def refunds_for(self, payment_intent: str) -> list[dict]:
        response = requests.get(
            f"{self.url}/v1/refunds",
            params={"payment_intent": payment_intent, "limit": 100},
            headers={"Authorization": f"Bearer {SIM_API_KEY}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["data"]


@contextlib.contextmanager
def own_simulator(directory: Path, *, stall: float = 3.0) -> Iterator[Simulator]:
    """A simulator process of a test module's own, whose webhooks go nowhere (the tests drive delivery)."""
    sim = Simulator(port=free_port(), db_path=directory / "sim.sqlite3", webhook_url="http://127.0.0.1:9/", stall=stall)
    sim.start()
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
    """A real Celery worker process (with embedded beat for the sweeper)."""

    def __init__(self, *, env: dict[str, str], concurrency: int = 2, beat: bool = True, name: str = "w1") -> None:
        self.env, self.concurrency, self.beat, self.name = env, concurrency, beat, name
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        args = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
            f"--concurrency={self.concurrency}",  # no -Q: every queue of this session (settings.CELERY_TASK_QUEUES)
            "-n", f"{self.name}@%h", "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        if self.beat:
            args += ["-B", "--schedule", str(ROOT / "var" / f"beat-{os.getpid()}-{self.name}")]
        (ROOT / "var").mkdir(exist_ok=True)
        self.process = subprocess.Popen(args, cwd=ROOT, env=self.env, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the whole worker process group: a crash, not a shutdown."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown: the main process lets running tasks finish, then exits."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
