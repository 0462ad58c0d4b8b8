"""Issue 17's figures: the whole stack as production runs it, under open-loop load.

The stack: gunicorn (2 sync workers, DEBUG=0), one Celery worker (concurrency
2, every queue), `celery beat` apart, the Stripe simulator sending signed
webhooks back to the app, PostgreSQL and Redis (broker and cache); and the
outbox relay (`manage.py outbox_relay`, OUTBOX_HANDOFF=relay) when the code
under test has it, so one harness measures before and after (`--handoff
publish` runs without it, `--handoff relay` insists on it). Per-key rate
limits off. A fresh database per run, or a copy of a seeded one
(`--seeded-db`, see benchmarks/seed_history.py).

Scenarios, each run (latency of an open-loop request counted from its
scheduled start, see benchmarks/stackrun.py):

a) refund creates at 20/s for 30 s (distinct orders, auto-approved): p50/p95/p99;
b) refund reads (GET /v1/refunds/{id}) at 50/s for 30 s;
c) closed loop, 16 clients creating for 30 s: creates/s at saturation;
d) creates at 20/s for 30 s, then wait until all settled: p95 of
   completed_at - created_at from the refund rows (and from the audit
   events' times), auto-approved refunds completed through the simulator;
e) pgbench tpcb-like on a scratch database of the same server (`-i -s 10`,
   then `-c 16 -j 2 -T 30`): tps, and creates/s / tps, the machine-independent
   figure.

The stack settles between scenarios (every refund final, no outbox message
pending), so one scenario's tail does not land in the next one.
pg_stat_statements is reset before a) and the top 25 statements of the bench
database by total time are written after d).

    .venv/bin/python benchmarks/stack_load.py --label before [--runs 3] [--quick] [--seeded-db NAME [--in-place]]
        [--handoff auto|publish|relay]

Writes benchmarks/results/stack_load-<label>.json (medians over runs and each
run's raw figures) and benchmarks/results/pgss-<label>.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis
from common import RESULTS, bench_env, manage, recreate_database, write_results
from stackrun import (  # noqa: F401 - re-exported for callers
    PG,
    ROOT,
    Client,
    Proc,
    Simulator,
    TierCpu,
    celery_beat,
    celery_worker,
    closed_loop,
    create_api_key,
    create_refund,
    db_url,
    free_port,
    git_commit,
    gunicorn,
    harness_connect,
    machine_state,
    max_refund_id,
    open_loop,
    push_orders,
    relay,
    relay_available,
    wait_http_ok,
    wait_quiet,
)

DB = "rd_bench"
SIM_KEY, SIM_SECRET = "sk_test_bench_stack", "whsec_bench_stack"
TARGETS = {
    "create_p95_ms": 25,
    "read_p95_ms": 10,
    "saturation_creates_per_s": 150,
    "create_to_completed_p95_ms": 300,
}


class Stack:
    """gunicorn x2, a Celery worker (concurrency 2), beat, the simulator, and the relay when there is one."""

    def __init__(
        self,
        db: str,
        tmp: Path,
        redis_url: str,
        *,
        web_port: int,
        worker_concurrency: int = 2,
        handoff: str = "auto",
    ) -> None:
        self.db, self.tmp, self.web_port, self.handoff = db, tmp, web_port, handoff
        self.queue = f"bench-stack-{secrets.token_hex(3)}"
        self.env = bench_env(
            db,
            DEBUG="0",
            REDIS_URL=redis_url,
            CELERY_BROKER_URL=redis_url,
            CELERY_TASK_DEFAULT_QUEUE=self.queue,
            PROVIDER="stripe",
            PROVIDER_API_KEY=SIM_KEY,
            PROVIDER_WEBHOOK_SECRET=SIM_SECRET,
            RATE_LIMIT_CREATE_PER_MINUTE="0",
            RATE_LIMIT_DECIDE_PER_MINUTE="0",
            RATE_LIMIT_CREDIT_PER_MINUTE="0",
        )
        self.simulator = Simulator(
            db_path=tmp / "sim.sqlite3",
            api_key=SIM_KEY,
            webhook_secret=SIM_SECRET,
            webhook_url=f"http://127.0.0.1:{web_port}/webhooks/payments",
            stall=10.0,
            webhook_backoff=1.0,
            env=self.env,
        )
        self.worker_concurrency = worker_concurrency
        self.procs: list[Proc] = []
        self.relay = False

    def start(self) -> None:
        self.simulator.start()
        self.env["PROVIDER_API_BASE"] = self.simulator.url
        # auto: the relay where the code has one (so the same harness runs the code before it).
        available = relay_available(self.env)
        if self.handoff == "relay" and not available:
            raise SystemExit("--handoff relay: this code has no manage.py outbox_relay")
        self.relay = available and self.handoff != "publish"
        if self.relay:
            self.env["OUTBOX_HANDOFF"] = "relay"
        manage(self.env, "collectstatic", "--noinput", "-v", "0")  # as a deploy does (core/checks.py)
        web = gunicorn("web", self.env, self.web_port, self.tmp / "web.log", workers=2)
        self.procs = [
            web,
            celery_worker("worker", self.env, self.tmp / "worker.log", concurrency=self.worker_concurrency),
            celery_beat(self.env, self.tmp),
        ]
        if self.relay:
            self.procs.append(relay(self.env, self.tmp))
        for proc in self.procs:
            proc.start()
        wait_http_ok(self.web_port, proc=web)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(20)
        self.simulator.stop()

    def tiers(self) -> dict[str, list[int]]:
        """The root pid of each part of the stack (TierCpu)."""
        roots: dict[str, list[int]] = {}
        for proc in self.procs:
            if proc.process is not None:
                roots.setdefault(proc.name, []).append(proc.process.pid)
        if self.simulator.process is not None:
            roots["simulator"] = [self.simulator.process.pid]
        return roots

    def describe(self) -> str:
        parts = [
            "gunicorn 2 sync workers (DEBUG=0)",
            f"1 Celery worker (concurrency {self.worker_concurrency}, all queues)",
            "celery beat",
            "stripe simulator with webhooks",
            "PostgreSQL",
            "Redis broker + cache",
        ]
        if self.relay:
            parts.insert(3, "outbox relay (OUTBOX_HANDOFF=relay)")
        return ", ".join(parts)


# --- database set-up ---------------------------------------------------------------------------------


def prepare_database(db: str, env: dict[str, str], seeded: str | None, in_place: bool) -> dict:
    started = time.perf_counter()
    info: dict = {}
    if seeded and not in_place:
        with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{seeded}"')
        info["copied_from"] = seeded
        info["copy_s"] = round(time.perf_counter() - started, 1)
        migrate_started = time.perf_counter()
        # The seed was made by some commit; the code under test may have migrations of its own.
        manage(env, "migrate", "-v", "0")
        info["migrate_s"] = round(time.perf_counter() - migrate_started, 1)
    elif seeded:
        manage(env, "migrate", "-v", "0")
        info["in_place"] = seeded
    else:
        recreate_database(db, env)
        info["fresh"] = True
    with psycopg.connect(db_url(db), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        info["refunds_before"] = conn.execute("SELECT count(*) FROM refunds_refund").fetchone()[0]
        info["db_size"] = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    info["setup_s"] = round(time.perf_counter() - started, 1)
    return info


def server_settings(db: str) -> dict[str, str]:
    names = [
        "server_version", "shared_buffers", "work_mem", "effective_cache_size", "max_connections",
        "synchronous_commit", "fsync", "autovacuum", "jit", "max_wal_size", "shared_preload_libraries",
    ]  # fmt: skip
    with harness_connect(db) as conn:
        return dict(
            conn.execute("SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s)", (names,))
        )


def pgss_reset(db: str) -> None:
    with harness_connect(db) as conn:
        # This database's statements only: other databases of the server keep theirs.
        conn.execute(
            "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
        )


def pgss_top(db: str, limit: int = 25) -> list[dict]:
    with harness_connect(db) as conn:
        rows = conn.execute(
            "SELECT calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3), rows, "
            "round((100 * total_exec_time / nullif(sum(total_exec_time) OVER (), 0))::numeric, 1), query "
            "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY total_exec_time DESC LIMIT %s",
            (limit,),
        ).fetchall()
        totals = conn.execute(
            "SELECT sum(calls), round(sum(total_exec_time)::numeric, 1) FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    top = [
        {"calls": c, "total_ms": float(t), "mean_ms": float(m), "rows": r, "pct": float(p or 0),
         "query": " ".join(q.split())}
        for c, t, m, r, p, q in rows
    ]  # fmt: skip
    return [{"all_calls": int(totals[0] or 0), "all_total_ms": float(totals[1] or 0)}, *top]


def pgss_text(label: str, runs: list[dict]) -> str:
    lines = [f"pg_stat_statements, stack_load --label {label}: scenarios a-d of each run, bench database only", ""]
    for run in runs:
        head, *top = run["pgss"]
        lines.append(
            f"== run {run['run']}: {head['all_calls']} calls, {head['all_total_ms']:.0f} ms in all statements; "
            f"top {len(top)} by total time"
        )
        lines.append(f"{'calls':>8} {'total ms':>10} {'mean ms':>8} {'rows':>8} {'%':>5}  query")
        for row in top:
            query = row["query"] if len(row["query"]) <= 300 else row["query"][:297] + "..."
            lines.append(
                f"{row['calls']:>8} {row['total_ms']:>10.1f} {row['mean_ms']:>8.3f} {row['rows']:>8} "
                f"{row['pct']:>5.1f}  {query}"
            )
        lines.append("")
    return "\n".join(lines)


class Sessions:
    """New PostgreSQL sessions of the bench database since creation (pg_stat_database.sessions, PostgreSQL 14+).

    Every new session is a backend fork, authentication and Django's connection set-up: a process that
    connects per request or per task shows here.
    """

    def __init__(self, db: str) -> None:
        self.db = db
        self.start = self._count()

    def _count(self) -> int:
        with harness_connect(self.db) as conn:
            row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()
        return row[0]

    def delta(self) -> dict:
        return {"new_db_sessions": self._count() - self.start - 1}  # this object's own second connection


class Storage:
    """WAL written (the whole server's: keep it quiet) and the bench database's growth over a scenario."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.lsn, self.size = self._read()

    def _read(self) -> tuple[str, int]:
        with harness_connect(self.db) as conn:
            return conn.execute("SELECT pg_current_wal_lsn()::text, pg_database_size(current_database())").fetchone()

    def per(self, count: int) -> dict:
        with harness_connect(self.db) as conn:
            wal, size = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn), pg_database_size(current_database())",
                (self.lsn,),
            ).fetchone()
        units = max(1, count)
        return {
            "wal_bytes_per_refund": round(float(wal) / units),
            "db_growth_bytes_per_refund": round((size - self.size) / units),
        }


# --- scenario d: create -> completed from the database ----------------------------------------------


def completion_times(db: str, order_ids: list[str]) -> dict:
    """completed_at - created_at of the auto-approved refunds of these orders, and the same from audit events."""
    with harness_connect(db) as conn:
        rows = conn.execute(
            "SELECT r.state, r.policy_outcome, EXTRACT(EPOCH FROM (r.completed_at - r.created_at)) * 1000, "
            "EXTRACT(EPOCH FROM (done.occurred_at - asked.occurred_at)) * 1000 "
            "FROM refunds_refund r JOIN refunds_order o ON o.id = r.order_id "
            "LEFT JOIN LATERAL (SELECT min(occurred_at) AS occurred_at FROM audit_auditevent "
            "  WHERE refund_id = r.id AND action = 'refund.completed') done ON TRUE "
            "LEFT JOIN LATERAL (SELECT min(occurred_at) AS occurred_at FROM audit_auditevent "
            "  WHERE refund_id = r.id AND action = 'refund.requested') asked ON TRUE "
            "WHERE o.order_id = ANY(%s)",
            (order_ids,),
        ).fetchall()
    from common import percentiles

    states: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    by_row, by_audit = [], []
    for state, outcome, row_ms, audit_ms in rows:
        states[state] = states.get(state, 0) + 1
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if state == "completed" and outcome == "auto_approve" and row_ms is not None:
            by_row.append(float(row_ms))
            if audit_ms is not None:
                by_audit.append(float(audit_ms))
    return {
        "refunds": len(rows),
        "states": states,
        "policy_outcomes": outcomes,
        "completed_at_minus_created_at": percentiles(by_row),
        "audit_completed_minus_requested": percentiles(by_audit),
    }


# --- scenario e: pgbench ----------------------------------------------------------------------------------


def pgbench(scratch: str, *, scale: int, clients: int, threads: int, seconds: float) -> dict:
    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    url = db_url(scratch)
    try:
        started = time.perf_counter()
        subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), url], check=True, capture_output=True, text=True)
        init_s = time.perf_counter() - started
        out = subprocess.run(
            ["pgbench", "-c", str(clients), "-j", str(threads), "-T", str(int(seconds)), url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    latency = re.search(r"latency average = ([0-9.]+) ms", out)
    return {
        "command": f"pgbench -i -s {scale}; pgbench -c {clients} -j {threads} -T {int(seconds)} (tpcb-like)",
        "tps": float(tps.group(1)) if tps else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "init_s": round(init_s, 1),
    }


# --- checks after the run ---------------------------------------------------------------------------------


def invariants(db: str) -> dict:
    """Cheap invariant checks of the run's database (SQL): a speed-up must not cost these."""
    with harness_connect(db) as conn:
        unbalanced = conn.execute(
            "SELECT currency, sum(amount_minor) FROM ledger_posting GROUP BY currency HAVING sum(amount_minor) <> 0"
        ).fetchall()
        over = conn.execute(
            "SELECT count(*) FROM refunds_payment p WHERE p.refund_reserved_minor > p.amount_minor OR "
            "p.refund_reserved_minor <> (SELECT coalesce(sum(r.amount_minor), 0) FROM refunds_refund r "
            "WHERE r.payment_id = p.id AND r.state IN "
            "('requested','approved','submitting','provider_pending','completed'))"
        ).fetchone()[0]
        unsealed = conn.execute("SELECT count(*) FROM audit_auditpending").fetchone()[0]
    return {
        "ledger_unbalanced_currencies": [list(row) for row in unbalanced],
        "payments_reserved_mismatch": over,
        "audit_events_unsealed": unsealed,
    }


# --- one run ----------------------------------------------------------------------------------------------


def one_run(args: argparse.Namespace, n: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    db = args.seeded_db if args.in_place else args.db
    stack = Stack(db, tmp, args.redis, web_port=free_port(), handoff=args.handoff)
    figures: dict = {"run": n}
    figures["database"] = prepare_database(db, stack.env, args.seeded_db, args.in_place)
    figures["postgres"] = server_settings(db)
    redis.Redis.from_url(args.redis).flushdb()  # the benchmark's own Redis database: breakers, caches, queues
    key = create_api_key(stack.env, f"bench-{n}", "orders:write,refunds:create,refunds:read")
    ports = [stack.web_port]
    try:
        stack.start()
        figures["setup"] = stack.describe()
        figures["relay"] = stack.relay
        d = args.duration
        tag = f"R{n}{secrets.token_hex(2)}"  # orders of this run (a reused seeded database keeps earlier runs')
        need = {
            "warm": 60,
            "a": int(args.create_rate * d),
            "c": int(args.saturation_cap * d),
            "d": int(args.create_rate * d),
        }
        orders = {part: [f"{tag}-{part}-{i:06d}" for i in range(count)] for part, count in need.items()}
        pushed_at = time.perf_counter()
        figures["order_push_per_s"] = push_orders(ports, key, [o for ids in orders.values() for o in ids])
        figures["order_push_s"] = round(time.perf_counter() - pushed_at, 1)

        def client() -> Client:
            return Client(ports, key)

        def creates(ids: list[str]):
            return lambda i, c: create_refund(c, ids[i])

        # Warm-up: connections, caches, the simulator's and the worker's first calls.
        closed_loop(clients=4, duration=60, job=creates(orders["warm"]), client_factory=client,
                    limit=len(orders["warm"]))  # fmt: skip
        figures["settle_warm"] = wait_quiet(db)
        # This server runs with autovacuum off; production does not. The tables the set-up just filled
        # get their statistics and visibility map as autovacuum would have given them by now.
        vacuum_started = time.perf_counter()
        with harness_connect(db) as conn:
            conn.execute("VACUUM (ANALYZE)")
        figures["vacuum_analyze_s"] = round(time.perf_counter() - vacuum_started, 1)

        pgss_reset(db)
        since = max_refund_id(db)
        sessions = Sessions(db)
        res = open_loop(rate=args.create_rate, duration=d, job=creates(orders["a"]), client_factory=client,
                        keep_bodies=True)  # fmt: skip
        figures["a_create_open_loop"] = {"rate_per_s": args.create_rate, "duration_s": d, **res.summary(),
                                         **sessions.delta()}  # fmt: skip
        created = []
        for body in res.bodies:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                created.append(json.loads(body)["refund_id"])
        figures["settle_a"] = wait_quiet(db, since_id=since)

        if created:
            sessions = Sessions(db)
            res = open_loop(
                rate=args.read_rate,
                duration=d,
                job=lambda i, c: c.call("GET", f"/v1/refunds/{created[i % len(created)]}"),
                client_factory=client,
            )
            figures["b_read_open_loop"] = {"rate_per_s": args.read_rate, "duration_s": d, **res.summary(),
                                           **sessions.delta()}  # fmt: skip

        since, sessions = max_refund_id(db), Sessions(db)
        res = closed_loop(clients=args.clients, duration=d, job=creates(orders["c"]), client_factory=client,
                          limit=len(orders["c"]))  # fmt: skip
        figures["c_create_closed_loop"] = {"clients": args.clients, "duration_s": d, **res.summary(),
                                           **sessions.delta()}  # fmt: skip
        figures["settle_c"] = wait_quiet(db, timeout=300, since_id=since)

        since, sessions = max_refund_id(db), Sessions(db)
        storage = Storage(db)
        cpu = TierCpu(stack.tiers(), db=db).start()
        res = open_loop(rate=args.create_rate, duration=d, job=creates(orders["d"]), client_factory=client)
        settle = wait_quiet(db, timeout=300, since_id=since)
        cpu.stop()
        new_sessions = sessions.delta()
        figures["d_create_to_completed"] = {
            "rate_per_s": args.create_rate,
            "duration_s": d,
            "creates": res.summary(),
            "settle": settle,
            **new_sessions,
            **completion_times(db, orders["d"]),
            # Each refund's whole life (its create, delivery, the provider's webhook, completion, emails),
            # as CPU time per part of the stack: the per-core figures of docs/scaling.md.
            "cpu_per_refund": cpu.per(len(orders["d"])),
            **storage.per(len(orders["d"])),
        }
        figures["pgss"] = pgss_top(db)
        figures["e_pgbench"] = pgbench(
            f"{args.db}_pgbench", scale=10, clients=16, threads=2, seconds=args.pgbench_seconds
        )
        time.sleep(2.5)  # the sealer's period: the run's last events get their seals
        figures["invariants"] = invariants(db)
    finally:
        stack.stop()
        if not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            figures["logs"] = str(tmp)
    sat = figures["c_create_closed_loop"]["ok_per_s"]
    tps = figures["e_pgbench"]["tps"]
    figures["ratio_creates_per_s_to_pgbench_tps"] = round(sat / tps, 4) if sat and tps else None
    return figures


HEADLINES = {
    "create_p50_ms": ("a_create_open_loop", "p50_ms"),
    "create_p95_ms": ("a_create_open_loop", "p95_ms"),
    "create_p99_ms": ("a_create_open_loop", "p99_ms"),
    "read_p50_ms": ("b_read_open_loop", "p50_ms"),
    "read_p95_ms": ("b_read_open_loop", "p95_ms"),
    "read_p99_ms": ("b_read_open_loop", "p99_ms"),
    "saturation_creates_per_s": ("c_create_closed_loop", "ok_per_s"),
    "saturation_p95_ms": ("c_create_closed_loop", "p95_ms"),
    "create_to_completed_p50_ms": ("d_create_to_completed", "completed_at_minus_created_at", "p50_ms"),
    "create_to_completed_p95_ms": ("d_create_to_completed", "completed_at_minus_created_at", "p95_ms"),
    "create_to_completed_audit_p95_ms": ("d_create_to_completed", "audit_completed_minus_requested", "p95_ms"),
    "cpu_ms_per_refund": ("d_create_to_completed", "cpu_per_refund", "cpu_ms_per_unit_total"),
    "cpu_ms_per_refund_web": ("d_create_to_completed", "cpu_per_refund", "cpu_ms_per_unit", "web"),
    "cpu_ms_per_refund_worker": ("d_create_to_completed", "cpu_per_refund", "cpu_ms_per_unit", "worker"),
    "cpu_ms_per_refund_postgresql": ("d_create_to_completed", "cpu_per_refund", "cpu_ms_per_unit", "postgresql"),
    "wal_bytes_per_refund": ("d_create_to_completed", "wal_bytes_per_refund"),
    "db_growth_bytes_per_refund": ("d_create_to_completed", "db_growth_bytes_per_refund"),
    "pgbench_tps": ("e_pgbench", "tps"),
    "ratio_creates_per_s_to_pgbench_tps": ("ratio_creates_per_s_to_pgbench_tps",),
}


def _dig(run: dict, path: tuple[str, ...]):
    value = run
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", required=True, help="before | after | after-10m | ... (names the result files)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a development run: 5 s per scenario")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per scenario")
    parser.add_argument("--create-rate", type=float, default=20.0)
    parser.add_argument("--read-rate", type=float, default=50.0)
    parser.add_argument("--clients", type=int, default=16, help="closed-loop clients of scenario c")
    parser.add_argument("--saturation-cap", type=float, default=400.0, help="orders made for c, per second of it")
    parser.add_argument("--pgbench-seconds", type=float, default=30.0)
    parser.add_argument("--db", default=DB, help="the run's database (dropped and made afresh)")
    parser.add_argument("--seeded-db", help="copy this seeded database (CREATE DATABASE ... TEMPLATE) per run")
    parser.add_argument("--in-place", action="store_true", help="with --seeded-db: run on it, no copy")
    parser.add_argument("--redis", default=None, help="Redis URL of the benchmark's own (flushed!) database")
    parser.add_argument(
        "--handoff",
        choices=["auto", "publish", "relay"],
        default="auto",
        help="OUTBOX_HANDOFF of the run; auto: relay where the code has one",
    )
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    import os

    args.redis = args.redis or os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/7")
    if args.quick:
        args.duration = min(args.duration, 5.0)
        args.pgbench_seconds = min(args.pgbench_seconds, 5.0)
    if args.seeded_db and args.seeded_db == args.db and not args.in_place:
        parser.error("--db must differ from --seeded-db (or pass --in-place)")
    started = time.perf_counter()
    results: dict = {
        "label": args.label,
        "git": git_commit(),
        "machine_at_start": machine_state(),
        "args": {k: v for k, v in vars(args).items() if k != "redis"},
        "targets": TARGETS,
    }
    runs = []
    for n in range(1, args.runs + 1):
        print(f"run {n}/{args.runs} ...", flush=True)
        runs.append(one_run(args, n))
        print(json.dumps({name: _dig(runs[-1], path) for name, path in HEADLINES.items()}), flush=True)
    results["median"] = {}
    for name, path in HEADLINES.items():
        values = [v for v in (_dig(run, path) for run in runs) if isinstance(v, int | float)]
        results["median"][name] = round(statistics.median(values), 4) if values else None
    results["per_run"] = {name: [_dig(run, path) for run in runs] for name, path in HEADLINES.items()}
    results["machine_at_end"] = {"loadavg": [round(x, 2) for x in os.getloadavg()]}
    results["wall_clock_s"] = round(time.perf_counter() - started, 1)
    results["runs"] = [{k: v for k, v in run.items() if k != "pgss"} for run in runs]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"pgss-{args.label}.txt").write_text(pgss_text(args.label, runs))
    path = write_results(f"stack_load-{args.label}", results)
    print(json.dumps({"median": results["median"], "machine_at_start": results["machine_at_start"]}, indent=2))
    print(f"written to {path} and {RESULTS / f'pgss-{args.label}.txt'}")


if __name__ == "__main__":
    main()
