"""The whole stack as production runs it, and open-loop load against it (issue 17's benchmarks).

Shared by benchmarks/stack_load.py (one stack, latency and throughput) and
benchmarks/cluster.py (two web groups, two worker groups, PgBouncer,
RabbitMQ, a worker group killed mid-run). Stdlib, psycopg and the simulator
launcher of tests/support only: no Django in the load generator's process.

Open loop: a scheduler thread hands request i to a thread pool at
`start + i / rate` whatever the earlier requests are doing, and a request's
latency is measured from that scheduled start. A server that stalls makes
the requests behind it wait in the pool's queue, and that wait counts:
coordinated omission is not hidden (a closed loop would silently send fewer
requests while the server is slow).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import PG, ROOT, manage, percentiles

sys.path.insert(0, str(ROOT))  # the one simulator launcher lives with the tests
from tests.support.simulator import Simulator

__all__ = ["PG", "ROOT", "Simulator"]

TERMINAL = ("completed", "failed", "denied", "canceled")


# --- the machine ----------------------------------------------------------------------------------------


def git_commit() -> dict[str, object]:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    branch = subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    return {"commit": head, "branch": branch, "dirty": bool(dirty.stdout.strip())}


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _process_table() -> dict[int, tuple[str, int, int, int, str]]:
    """pid -> (name, parent pid, own jiffies, reaped children's jiffies, command line).

    Own is utime + stime; reaped is cutime + cstime, the children that exited and were reaped (a
    PostgreSQL backend that ended, a prefork child replaced): their CPU is counted in their parent
    once they are gone.
    """
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        own, reaped = int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])
        out[int(entry.name)] = (name, int(rest[1]), own, reaped, cmdline)
    return out


def _process_jiffies() -> dict[int, tuple[str, int]]:
    """pid -> (name, own utime + stime)."""
    return {pid: (name, own) for pid, (name, _, own, _, _) in _process_table().items()}


class TierCpu:
    """CPU time of each part of the stack between `start()` and `stop()`, from /proc (issue 17's capacity model).

    `roots`: a tier's processes are these pids and their descendants (gunicorn and its workers, a Celery
    worker and its pool, beat, the relay, the simulator). PostgreSQL is the postmaster, its auxiliary
    processes and the backends of `db` (a backend's command line names its database: other databases'
    sessions on the server are not counted); Redis is redis-server; the load generator is this process.
    Per unit of work (`per(count)`), these are the figures docs/scaling.md sizes a deployment with.
    """

    def __init__(self, roots: dict[str, Sequence[int]], *, db: str) -> None:
        self.roots = {pid: tier for tier, pids in roots.items() for pid in pids}
        self.db = db
        self.hz = os.sysconf("SC_CLK_TCK")

    def _tier(self, pid: int, table: dict[int, tuple[str, int, int, int, str]]) -> str | None:
        name, _, _, _, cmdline = table[pid]
        if pid == os.getpid():
            return "load generator"
        if name == "redis-server":
            return "redis"
        if name == "postgres":
            if cmdline.startswith("postgres: ") and "(" in cmdline and f" {self.db} " not in cmdline:
                return None  # a session of another database
            return "postgresql"
        seen, current = 0, pid
        while current in table and seen < 64:
            if current in self.roots:
                return self.roots[current]
            current, seen = table[current][1], seen + 1
        return None

    def _sample(self) -> dict[str, int]:
        table = _process_table()
        by_tier: dict[str, int] = {}
        for pid in table:
            tier = self._tier(pid, table)
            if tier is not None:
                _, _, own, reaped, _ = table[pid]
                by_tier[tier] = by_tier.get(tier, 0) + own + reaped
        return by_tier

    def start(self) -> TierCpu:
        self.started_at, self.busy_start, self.before = time.perf_counter(), _cpu_times()[0], self._sample()
        return self

    def stop(self) -> TierCpu:
        self.seconds = time.perf_counter() - self.started_at
        self.busy_jiffies = _cpu_times()[0] - self.busy_start
        self.after = self._sample()
        return self

    def per(self, count: int) -> dict[str, object]:
        """CPU milliseconds per unit by tier, their sum, and the machine's busy time per unit (what the
        tiers do not account for is the rest of the machine)."""
        ms = {
            tier: 1000.0 * (self.after.get(tier, 0) - self.before.get(tier, 0)) / self.hz
            for tier in sorted(set(self.after) | set(self.before))
        }
        units = max(1, count)
        return {
            "units": count,
            "seconds": round(self.seconds, 1),
            "cpu_ms_per_unit": {tier: round(value / units, 2) for tier, value in ms.items()},
            "cpu_ms_per_unit_total": round(sum(ms.values()) / units, 2),
            "machine_busy_ms_per_unit": round(1000.0 * self.busy_jiffies / self.hz / units, 2),
        }


class CpuMeter:
    """System-wide CPU busy share between `start()` and `stop()` (what else ran counts too)."""

    def start(self) -> CpuMeter:
        self.busy, self.total = _cpu_times()
        return self

    def stop(self) -> float:
        busy, total = _cpu_times()
        return round(100.0 * (busy - self.busy) / max(1, total - self.total), 1)


def machine_state(sample_s: float = 3.0) -> dict[str, object]:
    """Load average, CPU busy share and the busiest processes over `sample_s`, before anything of ours starts.

    On a shared machine the figures that follow mean little when this says the CPUs were busy already.
    """
    before, cpu = _process_jiffies(), CpuMeter().start()
    time.sleep(sample_s)
    busy = cpu.stop()
    after = _process_jiffies()
    hz = os.sysconf("SC_CLK_TCK")
    top = []
    for pid, (name, jiffies) in after.items():
        if pid in before and pid != os.getpid():
            share = 100.0 * (jiffies - before[pid][1]) / hz / sample_s
            if share >= 1.0:
                top.append({"pid": pid, "name": name, "cpu_pct": round(share, 1)})
    top.sort(key=lambda item: -item["cpu_pct"])
    return {
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "cpu_busy_pct": busy,
        "busy_processes": top[:10],
        "others_busy": busy > 15.0,
        "sampled_s": sample_s,
    }


# --- processes ------------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> Proc:
        log = open(self.log, "ab")  # noqa: SIM115 - the child holds it while it runs
        # A session of its own: a kill reaches the whole group (a Celery worker's pool children too).
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the process group: a crash, no shutdown."""
        if self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self) -> None:
        if self.running:
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait(self, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http_ok(port: int, path: str = "/healthz", timeout: float = 60.0, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.running:
            raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}; see {proc.log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing healthy on port {port} after {timeout:.0f} s")


def gunicorn(name: str, env: dict[str, str], port: int, log: Path, workers: int = 2) -> Proc:
    """gunicorn as deployed: gunicorn.conf.py from the app directory, sync workers (common.start_gunicorn's command)."""
    return Proc(
        name,
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--log-level", "warning", "--graceful-timeout", "5"],
        env, log,
    )  # fmt: skip


def celery_worker(
    name: str, env: dict[str, str], log: Path, *, concurrency: int = 2, queues: Sequence[str] = ()
) -> Proc:
    args = [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
            f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "-n", f"{name}@%h"]  # fmt: skip
    if queues:
        args += ["-Q", ",".join(queues)]
    return Proc(name, args, env, log)


def celery_beat(env: dict[str, str], tmp: Path) -> Proc:
    return Proc(
        "beat",
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=WARNING",
         "--schedule", str(tmp / "beat-schedule")],
        env, tmp / "beat.log",
    )  # fmt: skip


def relay_available(env: dict[str, str]) -> bool:
    """The outbox relay of issue 17 (`manage.py outbox_relay`, OUTBOX_HANDOFF=relay), when the code has it.

    So one harness measures the code before and after it: without it, creates hand off with apply_async.
    """
    settings_text = (ROOT / "config" / "settings" / "base.py").read_text()
    if "OUTBOX_HANDOFF" not in settings_text:
        return False
    probe = subprocess.run(
        [sys.executable, "manage.py", "help", "outbox_relay"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return probe.returncode == 0


def relay(env: dict[str, str], tmp: Path, name: str = "relay") -> Proc:
    return Proc(name, [sys.executable, "manage.py", "outbox_relay"], env, tmp / f"{name}.log")


def create_api_key(env: dict[str, str], name: str, scopes: str, *extra: str) -> str:
    return manage(env, "create_api_key", name, "--scopes", scopes, *extra).strip().splitlines()[-1]


# --- HTTP ---------------------------------------------------------------------------------------------


class Client:
    """One client's connections, to one or several web groups in turn (round robin per request).

    gunicorn's sync workers close every connection after the answer; http.client
    reconnects on the next request, so the connect is in each measured call, as it
    is for a merchant without a pooling proxy.
    """

    def __init__(self, ports: Sequence[int], key: str, timeout: float = 30.0) -> None:
        self.ports, self.key, self.timeout = list(ports), key, timeout
        self.conns = {port: http.client.HTTPConnection("127.0.0.1", port, timeout=timeout) for port in self.ports}
        self.turn = 0

    def call(self, method: str, path: str, body: dict | None = None, **headers: str) -> tuple[int | str, bytes]:
        port = self.ports[self.turn % len(self.ports)]
        self.turn += 1
        conn = self.conns[port]
        try:
            conn.request(
                method,
                path,
                body=json.dumps(body) if body is not None else None,
                headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json", **headers},
            )
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            return f"error {type(error).__name__}", b""


def order_body(order_id: str, amount_minor: int, *, mode: str = "ok", currency: str = "USD") -> dict:
    """An order whose payment the simulator answers in `mode`; one customer per order.

    A customer of its own per order: every create takes the full auto-approve path,
    never the velocity review (policy: at most 5 refunds per customer in 24 h).
    """
    return {
        "order_id": order_id,
        "currency": currency,
        "customer": {"id": f"c-{order_id}", "email": f"{order_id.lower()}@example.com"},
        "lines": [{"unit_amount_minor": amount_minor - amount_minor // 11, "tax_minor": amount_minor // 11}],
        "payment": {
            "provider_payment_id": f"pi_sim_{mode}_{order_id.lower().replace('-', '')}",
            "rail": "card",
            "amount_minor": amount_minor,
            "status": "captured",
            "captured_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        },
    }


def push_orders(ports: Sequence[int], key: str, ids: Sequence[str], *, amount_minor: int = 10000,
                threads: int = 4) -> float:  # fmt: skip
    """Create the orders through the API (untimed set-up); returns orders/s."""
    local = threading.local()
    failures: list[str] = []

    def push(order_id: str) -> None:
        if not hasattr(local, "client"):
            local.client = Client(ports, key)
        for _ in range(3):
            status, body = local.client.call("POST", "/v1/orders", order_body(order_id, amount_minor))
            if status in (200, 201):
                return
        failures.append(f"{order_id}: {status} {body[:200]!r}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(push, ids))
    if failures:
        raise RuntimeError(f"{len(failures)} order pushes failed, first: {failures[0]}")
    return round(len(ids) / (time.perf_counter() - started), 1)


def create_refund(client: Client, order_id: str, amount_minor: int = 1000, key: str | None = None):
    return client.call(
        "POST",
        f"/v1/orders/{order_id}/refunds",
        {"amount_minor": amount_minor, "currency": "USD", "reason": "not_received"},
        **{"Idempotency-Key": key or f"k-{order_id}"},
    )


# --- load --------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    bodies: list[bytes] = field(default_factory=list)
    elapsed_s: float = 0.0
    sent: int = 0
    dispatch_lag_ms: list[float] = field(default_factory=list)
    cpu_busy_pct: float = 0.0

    def summary(self, *, ok: Sequence[int] = (200, 201, 202)) -> dict:
        good = sum(n for status, n in self.statuses.items() if status in ok)
        lag = sorted(self.dispatch_lag_ms)
        return {
            **percentiles(self.latencies_ms),
            "sent": self.sent,
            "ok": good,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "elapsed_s": round(self.elapsed_s, 2),
            "ok_per_s": round(good / self.elapsed_s, 1) if self.elapsed_s else None,
            # How late the scheduler itself handed requests out (the load generator's own health).
            "dispatch_lag_p99_ms": round(lag[int(0.99 * (len(lag) - 1))], 2) if lag else None,
            "cpu_busy_pct": self.cpu_busy_pct,
        }


def open_loop(
    *,
    rate: float,
    duration: float,
    job: Callable[[int, Client], tuple[int | str, bytes]],
    client_factory: Callable[[], Client],
    pool_size: int = 64,
    keep_bodies: bool = False,
) -> LoadResult:
    """Request i starts at start + i / rate (a constant rate), latency from that scheduled start."""
    result = LoadResult()
    total = int(rate * duration)
    lock = threading.Lock()
    local = threading.local()

    def run_one(i: int, scheduled: float) -> None:
        if not hasattr(local, "client"):
            local.client = client_factory()
        status, body = job(i, local.client)
        latency = (time.perf_counter() - scheduled) * 1000
        with lock:
            result.latencies_ms.append(latency)
            result.statuses[status] += 1
            if keep_bodies:
                result.bodies.append(body)

    cpu = CpuMeter().start()
    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        start = time.perf_counter() + 0.05
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            result.dispatch_lag_ms.append(max(0.0, (time.perf_counter() - scheduled) * 1000))
            pool.submit(run_one, i, scheduled)
            result.sent += 1
    result.elapsed_s = time.perf_counter() - start
    result.cpu_busy_pct = cpu.stop()
    return result


def closed_loop(
    *,
    clients: int,
    duration: float,
    job: Callable[[int, Client], tuple[int | str, bytes]] | None,
    client_factory: Callable[[], Client],
    limit: int | None = None,
) -> LoadResult:
    """`clients` threads, each sending its next request when the last one answered, for `duration` seconds.

    `job(i, client)` gets a running number; `limit` caps the total (e.g. the orders made for it).
    """
    result = LoadResult()
    lock = threading.Lock()
    counter = iter(range(limit if limit is not None else 10**12))
    deadline = time.perf_counter() + duration
    exhausted = threading.Event()

    def client_loop() -> None:
        client = client_factory()
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                exhausted.set()
                return
            started = time.perf_counter()
            status, _ = job(i, client)
            latency = (time.perf_counter() - started) * 1000
            with lock:
                result.latencies_ms.append(latency)
                result.statuses[status] += 1
                result.sent += 1

    cpu = CpuMeter().start()
    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed_s = time.perf_counter() - started
    result.cpu_busy_pct = cpu.stop()
    if exhausted.is_set():
        result.statuses["orders exhausted"] += 1
    return result


# --- the database --------------------------------------------------------------------------------------


def db_url(db: str) -> str:
    return f"{PG}/{db}"


def harness_connect(db: str):
    """A connection of the harness itself: its polling stays out of pg_stat_statements (superuser setting)."""
    import psycopg

    conn = psycopg.connect(db_url(db), autocommit=True)
    # Without the library loaded this merely sets a placeholder variable: no error either way.
    conn.execute("SET pg_stat_statements.track = 'none'")
    return conn


def refund_states(db: str, where: str = "TRUE", params: Sequence = ()) -> dict[str, int]:
    with harness_connect(db) as conn:
        rows = conn.execute(
            f"SELECT r.state, count(*) FROM refunds_refund r JOIN refunds_order o ON o.id = r.order_id "
            f"WHERE {where} GROUP BY 1",
            params,
        ).fetchall()
    return dict(rows)


def wait_quiet(db: str, *, timeout: float = 120.0, since_id: int = 0) -> dict:
    """Wait until every refund (id > since_id) is in a final state and no outbox message is pending."""
    started = time.monotonic()
    with harness_connect(db) as conn:
        while True:
            open_, pending = conn.execute(
                "SELECT (SELECT count(*) FROM refunds_refund WHERE id > %s AND state <> ALL(%s)),"
                " (SELECT count(*) FROM refunds_outboxmessage WHERE status = 'pending')",
                (since_id, list(TERMINAL)),
            ).fetchone()
            if (open_ == 0 and pending == 0) or time.monotonic() - started > timeout:
                return {"settled": open_ == 0 and pending == 0, "open_refunds": open_, "outbox_pending": pending,
                        "waited_s": round(time.monotonic() - started, 1)}  # fmt: skip
            time.sleep(0.5)


def max_refund_id(db: str) -> int:
    with harness_connect(db) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM refunds_refund").fetchone()[0]
