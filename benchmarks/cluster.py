"""The whole stack as a small cluster on one machine, a worker group killed mid-run, then the invariants (issue 17).

    .venv/bin/python benchmarks/cluster.py [--duration 60] [--rate 20] [--kill provider|other] [--quick]

Processes:

* two web groups, gunicorn x2 each on ports of their own; the load's clients
  take them in turn (round robin per request);
* two worker groups on separate queues (config/settings/base.py routes):
  `provider` consumes `<ns>.provider` (refunds.deliver_outbox, the money
  path), `other` consumes `<ns>`, `<ns>.email`, `<ns>.slack` and
  `<ns>.webhooks` (emails, sweepers, the sealer, webhooks); concurrency 2 each;
* one `celery beat`; the outbox relay (`manage.py outbox_relay`) when the code
  has it, on a direct connection (LISTEN does not pass a transaction pooler);
* PgBouncer (/usr/sbin/pgbouncer, transaction pooling, a config of its own
  in a temporary directory) in front of PostgreSQL. When the code does not
  declare itself PgBouncer-safe (DISABLE_SERVER_SIDE_CURSORS in its settings:
  `.iterator()` needs a server-side cursor that transaction pooling breaks),
  the web groups use the direct URL and only workers and beat go through
  PgBouncer (`--pgbouncer` overrides); the result file says which;
* RabbitMQ as the broker (amqp://guest:guest@127.0.0.1:5672) in a vhost of
  the run's own made with rabbitmqctl (deleted afterwards), else the default
  vhost with queue names of the run's own; Redis (db 7) only as the cache;
* the Stripe simulator with webhooks to the first web group.

Load, open loop for `--duration` seconds at `--rate` creates/s (scheduled
starts, see benchmarks/stackrun.py), one order per refund, mixed: 80 % the
simulator answers `succeeded`, 10 % `pending` then a webhook settles it, 5 %
a 5xx twice before it answers (outbox retries), 5 % goodwill (reviewed: a
senior agent's key approves half of them 5 s later, the other half stays
`requested`, as a review queue does). At `--kill-at` seconds the `--kill`
worker group is SIGKILLed (its whole process group: a crash, no shutdown),
and restarted `--restart-after` seconds later.

Then, once nothing is in flight (or after `--settle` seconds), the checks:

1. no payment over-refunded: reserved <= amount, and reserved = the sum of its active refunds;
2. exactly one provider refund per submitted refund: the simulator's own store,
   counted per metadata refund_id, against our provider_refund_id;
3. ledger balanced: every entry sums to zero, and the trial balance per currency;
4. audit chain: `manage.py verify_audit` (seals what is pending, walks the chain);
5. every refund in a final state or where it is expected (`requested`: the
   reviews nobody decided), no outbox message pending or dead.

Writes benchmarks/results/cluster.json; exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import redis
from common import ROOT, bench_env, manage, percentiles, recreate_database, write_results
from stackrun import (
    Client,
    Proc,
    Simulator,
    celery_beat,
    celery_worker,
    create_api_key,
    db_url,
    free_port,
    git_commit,
    gunicorn,
    harness_connect,
    machine_state,
    open_loop,
    order_body,
    relay,
    relay_available,
    wait_http_ok,
)

DB = "rd_bench_cluster"
SIM_KEY, SIM_SECRET = "sk_test_bench_cluster", "whsec_bench_cluster"
PGBOUNCER = os.environ.get("PGBOUNCER_BIN", "/usr/sbin/pgbouncer")
ACTIVE = ("requested", "approved", "submitting", "provider_pending", "completed")


# --- infrastructure: RabbitMQ vhost, PgBouncer ---------------------------------------------------------


def rabbit_vhost(name: str) -> tuple[str, str | None]:
    """(broker URL, vhost made) — a vhost of the run's own when rabbitmqctl may make one."""
    made = subprocess.run(["rabbitmqctl", "add_vhost", name], capture_output=True, text=True)
    if made.returncode == 0:
        perms = subprocess.run(
            ["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], capture_output=True, text=True
        )
        if perms.returncode == 0:
            return f"amqp://guest:guest@127.0.0.1:5672/{name}", name
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True)
    return "amqp://guest:guest@127.0.0.1:5672//", None


def rabbit_cleanup(vhost: str | None) -> None:
    if vhost:
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)


class PgBouncer:
    """PgBouncer in transaction pooling mode with a config of its own (trust auth on loopback, as PostgreSQL here)."""

    def __init__(self, db: str, tmp: Path) -> None:
        self.db, self.port = db, free_port()
        self.dir = tmp / "pgbouncer"
        self.dir.mkdir()
        self.proc: Proc | None = None

    def start(self) -> None:
        ini = self.dir / "pgbouncer.ini"
        (self.dir / "userlist.txt").write_text('"postgres" ""\n')
        ini.write_text(
            f"""[databases]
{self.db} = host=127.0.0.1 port=5432 dbname={self.db} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir / "userlist.txt"}
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
reserve_pool_size = 5
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {self.dir / "pgbouncer.log"}
pidfile = {self.dir / "pgbouncer.pid"}
admin_users = postgres
stats_users = postgres
"""
        )
        args = [PGBOUNCER, str(ini)]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: it drops to postgres, who must read and write its directory.
            shutil.chown(self.dir, "postgres")
            for path in self.dir.iterdir():
                shutil.chown(path, "postgres")
            self.dir.parent.chmod(0o755)
            args = [PGBOUNCER, "-u", "postgres", str(ini)]
        self.proc = Proc("pgbouncer", args, dict(os.environ), self.dir.parent / "pgbouncer.out").start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if not self.proc.running:
                    break
                time.sleep(0.3)
        raise RuntimeError(f"pgbouncer did not start; see {self.dir / 'pgbouncer.log'}")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.db}"

    def stats(self) -> dict:
        try:
            with psycopg.connect(f"postgres://postgres@127.0.0.1:{self.port}/pgbouncer", autocommit=True) as conn:
                cur = conn.cursor()
                cur.execute("SHOW STATS")
                cols = [d.name for d in cur.description]
                rows = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
        except psycopg.Error as error:
            return {"error": str(error)}
        row = next((r for r in rows if r.get("database") == self.db), {})
        keys = ("total_xact_count", "total_query_count", "total_server_assignment_count", "total_wait_time")
        return {k: int(row[k]) for k in keys if k in row}

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


def pgbouncer_safe() -> bool:
    """Whether the code under test declares itself safe behind a transaction pooler."""
    # Any settings module: since issue 17 it is config/settings/databases.py, under DATABASE_POOLER=pgbouncer.
    settings_files = (ROOT / "config" / "settings").glob("*.py")
    return any("DISABLE_SERVER_SIDE_CURSORS" in path.read_text() for path in settings_files)


# --- the cluster ------------------------------------------------------------------------------------------


class Cluster:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.ns = f"bench-cluster-{secrets.token_hex(3)}"
        self.web_ports = [free_port(), free_port()]
        self.vhost: str | None = None
        self.broker = ""
        self.pgbouncer = PgBouncer(args.db, tmp)
        self.procs: dict[str, Proc] = {}
        self.notes: list[str] = []
        self.relay = False

    def env_for(self, database_url: str) -> dict[str, str]:
        env = dict(self.base_env)
        env["DATABASE_URL"] = database_url
        return env

    def start(self) -> None:
        args = self.args
        if args.broker == "rabbitmq":
            self.broker, self.vhost = rabbit_vhost(self.ns)
            if self.vhost is None:
                self.notes.append("rabbitmqctl could not make a vhost: the default vhost with queues of the run's own")
        else:
            self.broker = args.redis
        self.base_env = bench_env(
            args.db,
            DEBUG="0",
            REDIS_URL=args.redis,
            CELERY_BROKER_URL=self.broker,
            CELERY_TASK_DEFAULT_QUEUE=self.ns,
            PROVIDER="stripe",
            PROVIDER_API_KEY=SIM_KEY,
            PROVIDER_WEBHOOK_SECRET=SIM_SECRET,
            RATE_LIMIT_CREATE_PER_MINUTE="0",
            RATE_LIMIT_DECIDE_PER_MINUTE="0",
            RATE_LIMIT_CREDIT_PER_MINUTE="0",
            # Short retry and lost-task periods, so a killed worker's work is found again within the run.
            OUTBOX_BACKOFF_BASE_SECONDS="0.5",
            OUTBOX_BACKOFF_MAX_SECONDS="5",
            OUTBOX_QUEUED_TTL_SECONDS="10",
            OUTBOX_SWEEP_SECONDS="2",
            EMAIL_SWEEP_SECONDS="5",
            EMAIL_REQUEUE_AFTER_SECONDS="20",
            # The mail backend here answers at once (locmem): an email leased by a killed worker is taken
            # up again after 30 s instead of the production 300 s, within the run's settling.
            EMAIL_LEASE_SECONDS="30",
        )
        recreate_database(args.db, self.base_env)
        redis.Redis.from_url(args.redis).flushdb()
        self.merchant_key = create_api_key(
            self.base_env, "cluster-merchant", "orders:write,refunds:create,refunds:read"
        )
        self.reviewer_key = create_api_key(
            self.base_env, "cluster-reviewer", "refunds:decide,refunds:read", "--role", "senior_agent"
        )
        self.simulator = Simulator(
            db_path=self.tmp / "sim.sqlite3",
            api_key=SIM_KEY,
            webhook_secret=SIM_SECRET,
            webhook_url=f"http://127.0.0.1:{self.web_ports[0]}/webhooks/payments",
            stall=10.0,
            async_delay=2.0,
            webhook_backoff=1.0,
            env=self.base_env,
        ).start()
        self.base_env["PROVIDER_API_BASE"] = self.simulator.url
        direct = db_url(args.db)
        mode = args.pgbouncer
        if mode == "auto":
            mode = "all" if pgbouncer_safe() else "workers"
            if mode == "workers":
                self.notes.append(
                    "the code does not set DISABLE_SERVER_SIDE_CURSORS: web groups on the direct URL, "
                    "workers and beat through PgBouncer"
                )
        self.pgbouncer_mode = mode
        if mode != "none":
            self.pgbouncer.start()
        pooled = self.pgbouncer.url if mode != "none" else direct
        web_env = self.env_for(pooled if mode == "all" else direct)
        worker_env = self.env_for(pooled)
        self.relay = relay_available(self.base_env)
        if self.relay:
            for env in (web_env, worker_env):
                env["OUTBOX_HANDOFF"] = "relay"
        manage(web_env, "collectstatic", "--noinput", "-v", "0")
        subprocess.run([sys.executable, "-m", "celery", "-A", "config", "purge", "-f"], cwd=ROOT, env=worker_env,
                       capture_output=True)  # fmt: skip
        queues = {
            "provider": [f"{self.ns}.provider"],
            "other": [self.ns, f"{self.ns}.email", f"{self.ns}.slack", f"{self.ns}.webhooks"],
        }
        self.worker_args = {
            name: celery_worker(
                f"{name}-{self.ns}", worker_env, self.tmp / f"worker-{name}.log", concurrency=2, queues=qs
            )
            for name, qs in queues.items()
        }
        for i, port in enumerate(self.web_ports, start=1):
            self.procs[f"web{i}"] = gunicorn(f"web{i}", web_env, port, self.tmp / f"web{i}.log", workers=2)
        self.procs.update({f"worker-{k}": v for k, v in self.worker_args.items()})
        self.procs["beat"] = celery_beat(worker_env, self.tmp)
        if self.relay:
            relay_env = dict(worker_env)
            # LISTEN needs a server session of its own: the direct line (core.databases.session_alias), as
            # deployed; its sweeps go through the pooler like any worker's transactions.
            relay_env["DATABASE_DIRECT_URL"] = direct
            self.procs["relay"] = relay(relay_env, self.tmp)
        for proc in self.procs.values():
            proc.start()
        for i, port in enumerate(self.web_ports, start=1):
            wait_http_ok(port, proc=self.procs[f"web{i}"])
        self.web_env, self.worker_env = web_env, worker_env

    def kill_group(self, name: str, notes: dict) -> None:
        """SIGKILL the group's process group (main process and pool children), start it again later."""
        proc = self.procs[f"worker-{name}"]
        notes["killed_at"] = time.time()
        proc.kill()
        time.sleep(self.args.restart_after)
        self.procs[f"worker-{name}"] = Proc(proc.name, proc.args, proc.env, proc.log).start()
        notes["restarted_at"] = time.time()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(20)
        if getattr(self, "simulator", None) is not None:
            self.simulator.stop()
        self.pgbouncer.stop()
        rabbit_cleanup(self.vhost)


# --- load ------------------------------------------------------------------------------------------------


def plan_orders(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    plan = []
    for i in range(n):
        kind = rng.choices(["ok", "async", "5xx", "review"], weights=[80, 10, 5, 5])[0]
        plan.append({
            "order_id": f"CL-{i:06d}",
            "mode": {"review": "ok"}.get(kind, kind),
            "reason": "goodwill" if kind == "review" else "not_received",
            "decide": kind == "review" and i % 2 == 0,
            "amount": rng.randint(500, 9000),
        })  # fmt: skip
    return plan


def push(cluster: Cluster, plan: list[dict]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    def one(item: dict) -> None:
        if not hasattr(local, "client"):
            local.client = Client(cluster.web_ports, cluster.merchant_key)
        for _ in range(3):
            status, body = local.client.call("POST", "/v1/orders", order_body(item["order_id"], 20000,
                                                                              mode=item["mode"]))  # fmt: skip
            if status in (200, 201):
                return
        raise RuntimeError(f"order push failed: {status} {body[:200]!r}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, plan))


def run_load(cluster: Cluster, plan: list[dict], notes: dict) -> dict:
    args = cluster.args
    decisions: Counter = Counter()
    due: list[tuple[float, str]] = []
    lock = threading.Lock()
    created: dict[str, str] = {}

    def job(i: int, client: Client):
        item = plan[i]
        status, body = client.call(
            "POST", f"/v1/orders/{item['order_id']}/refunds",
            {"amount_minor": item["amount"], "currency": "USD", "reason": item["reason"]},
            **{"Idempotency-Key": f"cl-{item['order_id']}"},
        )  # fmt: skip
        if status == 202:
            refund_id = json.loads(body)["refund_id"]
            with lock:
                created[item["order_id"]] = refund_id
                if item["decide"]:
                    due.append((time.monotonic() + 5.0, refund_id))
        return status, body

    stop = threading.Event()

    def reviewer() -> None:
        client = Client(cluster.web_ports, cluster.reviewer_key)
        while not stop.is_set() or due:
            with lock:
                ready = [d for d in due if d[0] <= time.monotonic()]
                for d in ready:
                    due.remove(d)
            for _, refund_id in ready:
                status, _ = client.call("POST", f"/v1/refunds/{refund_id}/decision",
                                        {"decision": "approve", "note": "cluster review"})  # fmt: skip
                decisions[str(status)] += 1
            time.sleep(0.2)

    review = threading.Thread(target=reviewer, daemon=True)
    review.start()
    killer = threading.Timer(args.kill_at, cluster.kill_group, args=(args.kill, notes))
    killer.start()
    load_start = time.time()
    result = open_loop(rate=args.rate, duration=args.duration, job=job,
                       client_factory=lambda: Client(cluster.web_ports, cluster.merchant_key))  # fmt: skip
    killer.join()
    stop.set()
    review.join(timeout=60)
    notes["load_start"] = load_start
    return {
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "creates": result.summary(),
        "decisions": dict(decisions),
        "created": created,
    }


# --- checks ------------------------------------------------------------------------------------------------


def wait_settled(db: str, limit: float) -> dict:
    started = time.monotonic()
    with harness_connect(db) as conn:
        while True:
            moving = conn.execute(
                "SELECT (SELECT count(*) FROM refunds_refund WHERE state IN "
                "('approved', 'submitting', 'provider_pending')), "
                "(SELECT count(*) FROM refunds_outboxmessage WHERE status = 'pending'), "
                "(SELECT count(*) FROM notifications_customeremail WHERE status NOT IN ('sent', 'failed', 'skipped'))"
            ).fetchone()
            if sum(moving) == 0 or time.monotonic() - started > limit:
                return {"settled": sum(moving) == 0, "in_flight_refunds": moving[0], "outbox_pending": moving[1],
                        "emails_pending": moving[2], "waited_s": round(time.monotonic() - started, 1)}  # fmt: skip
            time.sleep(1.0)


def simulator_refunds(sim_db: Path) -> dict[str, list[str]]:
    """The simulator's refunds by our refund id (metadata[refund_id]), straight from its store."""
    conn = sqlite3.connect(f"file:{sim_db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT id, json_extract(object, '$.metadata.refund_id') FROM refunds").fetchall()
    finally:
        conn.close()
    out: dict[str, list[str]] = {}
    for provider_id, refund_id in rows:
        out.setdefault(refund_id or "?", []).append(provider_id)
    return out


def checks(cluster: Cluster, plan: list[dict], load: dict) -> dict:
    db = cluster.args.db
    out: dict = {}
    with harness_connect(db) as conn:
        out["payments_over_refunded"] = conn.execute(
            "SELECT count(*) FROM refunds_payment WHERE refund_reserved_minor > amount_minor"
        ).fetchone()[0]
        out["payments_reserved_mismatch"] = conn.execute(
            "SELECT count(*) FROM refunds_payment p LEFT JOIN (SELECT payment_id, sum(amount_minor) AS s "
            "FROM refunds_refund WHERE state = ANY(%s) GROUP BY payment_id) r ON r.payment_id = p.id "
            "WHERE p.refund_reserved_minor <> coalesce(r.s, 0)",
            (list(ACTIVE),),
        ).fetchone()[0]
        refunds = conn.execute(
            "SELECT r.public_id, r.state, r.provider_refund_id, r.submission_count, o.order_id, r.policy_outcome "
            "FROM refunds_refund r JOIN refunds_order o ON o.id = r.order_id"
        ).fetchall()
        out["entries_unbalanced"] = conn.execute(
            "SELECT count(*) FROM (SELECT entry_id FROM ledger_posting GROUP BY entry_id "
            "HAVING sum(amount_minor) <> 0) x"
        ).fetchone()[0]
        out["trial_balance"] = {
            cur: int(total)
            for cur, total in conn.execute(
                "SELECT currency, sum(amount_minor) FROM ledger_posting GROUP BY currency ORDER BY 1"
            ).fetchall()
        }
        out["outbox_by_status"] = dict(
            conn.execute("SELECT status, count(*) FROM refunds_outboxmessage GROUP BY 1").fetchall()
        )
        out["outbox_attempts"] = {
            str(a): n for a, n in conn.execute(
                "SELECT attempts, count(*) FROM refunds_outboxmessage GROUP BY 1 ORDER BY 1").fetchall()
        }  # fmt: skip
        # Hand-off to the provider: outbox row written (in the create or decision) to delivered.
        out["outbox_created_to_delivered"] = percentiles([
            float(x) for (x,) in conn.execute(
                "SELECT EXTRACT(EPOCH FROM (delivered_at - created_at)) * 1000 FROM refunds_outboxmessage "
                "WHERE delivered_at IS NOT NULL").fetchall()
        ])  # fmt: skip
        out["emails_by_status"] = dict(
            conn.execute("SELECT status, count(*) FROM notifications_customeremail GROUP BY 1").fetchall()
        )
    sim = simulator_refunds(cluster.tmp / "sim.sqlite3")
    states = Counter(state for _, state, *_ in refunds)
    out["refunds_by_state"] = dict(states)
    undecided = {item["order_id"] for item in plan if item["reason"] == "goodwill" and not item["decide"]}
    submitted_states = ("submitting", "provider_pending", "completed", "failed")
    no_provider, several, mismatched, unexpected = [], [], [], []
    for public_id, state, provider_id, _count, order_id, _outcome in refunds:
        at_provider = sim.get(public_id, [])
        if state in submitted_states:
            if not at_provider:
                no_provider.append(public_id)
            elif len(at_provider) > 1:
                several.append({public_id: at_provider})
            elif provider_id and provider_id != at_provider[0]:
                mismatched.append({public_id: [provider_id, at_provider[0]]})
        elif at_provider:
            several.append({public_id: at_provider, "state": state})
        expected = state in ("completed", "failed", "denied", "canceled") or (
            state == "requested" and order_id in undecided
        )
        if not expected:
            unexpected.append({public_id: state})
    strangers = [k for k in sim if k not in {r[0] for r in refunds}]
    out["provider"] = {
        "provider_refunds": sum(len(v) for v in sim.values()),
        "submitted_without_provider_refund": no_provider[:20],
        "refunds_with_several_provider_refunds": several[:20],
        "provider_id_mismatch": mismatched[:20],
        "provider_refunds_of_unknown_refunds": strangers[:20],
    }
    out["refunds_not_final_or_expected"] = unexpected[:50]
    verify = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"], cwd=ROOT, env=cluster.worker_env, capture_output=True, text=True
    )
    out["verify_audit"] = {"ok": verify.returncode == 0, "output": (verify.stdout + verify.stderr).strip()[-600:]}
    created = load["created"]
    out["creates_accepted"] = len(created)
    out["creates_without_refund_row"] = [o for o in created if o not in {r[4] for r in refunds}][:20]
    verdicts = {
        "no_over_refund": out["payments_over_refunded"] == 0 and out["payments_reserved_mismatch"] == 0,
        "one_provider_refund_per_refund": not (no_provider or several or mismatched or strangers),
        "ledger_balanced": out["entries_unbalanced"] == 0 and all(v == 0 for v in out["trial_balance"].values()),
        "audit_chain_verified": out["verify_audit"]["ok"],
        "all_final_or_expected": not unexpected
        and not out["outbox_by_status"].get("pending")
        and not out["outbox_by_status"].get("dead"),
        "every_accepted_create_has_its_refund": not out["creates_without_refund_row"],
        "customer_emails_all_sent": set(out["emails_by_status"]) <= {"sent"},
    }
    out["verdicts"] = verdicts
    out["all_ok"] = all(verdicts.values())
    return out


def log_problems(tmp: Path) -> dict[str, dict]:
    """Error lines per process log (tracebacks and ERROR/CRITICAL records), with the first few."""
    found = {}
    for log in sorted(tmp.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        bad = [ln for ln in lines if "Traceback" in ln or '"level": "ERROR"' in ln or "ERROR" in ln[:40]
               or "CRITICAL" in ln[:40]]  # fmt: skip
        if bad:
            found[log.name] = {"count": len(bad), "first": [ln[:300] for ln in bad[:5]]}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--kill", choices=["provider", "other"], default="provider")
    parser.add_argument("--kill-at", type=float, default=None, help="seconds into the load (default: 40 %)")
    parser.add_argument("--restart-after", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=240.0, help="seconds to wait for the work to drain")
    parser.add_argument("--broker", choices=["rabbitmq", "redis"], default="rabbitmq")
    parser.add_argument("--pgbouncer", choices=["auto", "all", "workers", "none"], default="auto")
    parser.add_argument("--db", default=DB)
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/7"))
    parser.add_argument("--quick", action="store_true", help="20 s of load at 10/s, kill at 6 s, restart after 5 s")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rate, args.restart_after = min(args.duration, 20.0), min(args.rate, 10.0), 5.0
        args.kill_at = args.kill_at if args.kill_at is not None else 6.0
    if args.kill_at is None:
        args.kill_at = 0.4 * args.duration
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    results: dict = {"git": git_commit(), "machine_at_start": machine_state(), "args": vars(args)}
    cluster = Cluster(args, tmp)
    notes: dict = {}
    try:
        cluster.start()
        plan = plan_orders(int(args.rate * args.duration) + 5, args.seed)
        push(cluster, plan)
        load = run_load(cluster, plan, notes)
        settle = wait_settled(args.db, args.settle)
        results["setup"] = {
            "web": f"2 groups x gunicorn 2 sync workers, ports {cluster.web_ports}, clients round robin",
            "workers": {
                "provider": [f"{cluster.ns}.provider"],
                "other": [cluster.ns, f"{cluster.ns}.email", f"{cluster.ns}.slack", f"{cluster.ns}.webhooks"],
            },
            "broker": "RabbitMQ" + (f" vhost {cluster.vhost}" if cluster.vhost else " default vhost")
            if args.broker == "rabbitmq"
            else "Redis",
            "pgbouncer": {
                "mode": cluster.pgbouncer_mode,
                "pool_mode": "transaction",
                "stats": cluster.pgbouncer.stats() if cluster.pgbouncer_mode != "none" else None,
            },
            "relay": cluster.relay,
            "notes": cluster.notes,
        }
        results["kill"] = {
            "group": args.kill,
            "at_s": round(notes.get("killed_at", 0) - notes.get("load_start", 0), 1),
            "restarted_after_s": round(notes.get("restarted_at", 0) - notes.get("killed_at", 0), 1),
        }
        results["load"] = {k: v for k, v in load.items() if k != "created"}
        results["settle"] = settle
        results["checks"] = checks(cluster, plan, load)
    finally:
        cluster.stop()
        results["log_problems"] = log_problems(tmp)
        if args.keep_logs:
            results["logs"] = str(tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results["wall_clock_s"] = round(time.perf_counter() - started, 1)
    path = write_results("cluster", results)
    print(json.dumps({"checks": results["checks"]["verdicts"], "creates": results["load"]["creates"],
                      "settle": results["settle"], "setup": results["setup"]}, indent=2))  # fmt: skip
    print(f"written to {path}")
    if not results["checks"]["all_ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
