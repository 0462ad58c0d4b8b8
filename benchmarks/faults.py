"""Faults under steady load: what clients saw, how long the system took to converge, and the invariants.

A production-shaped stack on this machine: PostgreSQL reached through a
cuttable proxy (a "restart" drops every session and refuses connections),
a private Redis as the Celery broker and another as the cache (killed = an
outage that loses what they held), gunicorn with 2 workers, a Celery worker,
a separate beat, the provider simulator with webhooks, and an SMTP sink that
counts customer emails. Settings are the production defaults (breaker,
backoff, sweeper period).

Phases run one after another, each on a fresh stack and database. Each pushes its orders,
then fires refund creates at a steady rate (one try each, no client retries)
while the fault is injected; after the fault ends it waits until every
refund of the phase has settled, the outbox has drained and every email the
refunds call for was sent, then checks the invariants:

* no over-refund (per payment: refunds not failed/canceled <= captured);
* one provider refund per refund (the simulator's own records);
* the ledger balanced (every currency sums to zero);
* every email (approved + completed) sent exactly once;
* `verify_audit` OK.

Writes benchmarks/results/faults.json and prints a table.

    .venv/bin/python benchmarks/faults.py [--only broker_down,cache_down] [--label after]
"""

from __future__ import annotations

import argparse
import collections
import email
import email.policy
import http.client
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis
from common import PG, RESULTS, ROOT, bench_env, manage, recreate_database, start_gunicorn, write_results

sys.path.insert(0, str(ROOT))  # the simulator launcher and the fault tools live with the tests
from tests.support.faults import RedisServer, SmtpSink, TcpProxy
from tests.support.simulator import Simulator

DB = "refund_desk_bench_faults"
WEB_PORT = 8794
TERMINAL = ("completed", "failed", "canceled", "denied")
EMAILS_FOR_ACTION = {"refund.approved": "refund.approved", "refund.completed": "refund.completed"}
MONEY_CONVERGE_LIMIT_S = 180.0
# After the money converged, emails still in flight get this long: an email whose worker was killed
# mid-send waits out its lease (EMAIL_LEASE_SECONDS, 300 s) before another worker sends it.
EMAIL_GRACE_S = 400.0


@dataclass
class Phase:
    name: str
    what: str
    inject: Callable[[Stack, Phase], None] | None = None
    prepare: Callable[[Stack], None] | None = None  # before its orders are pushed
    rate: float = 5.0
    duration: float = 30.0
    fault_at: float = 8.0
    # Filled while it runs.
    restored_at: float = 0.0
    notes: dict = field(default_factory=dict)


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pg_proxy = TcpProxy("127.0.0.1", 5432).start()
        self.broker = RedisServer(tmp / "broker", name="broker").start()
        self.cache = RedisServer(tmp / "cache", name="cache").start()
        self.smtp = SmtpSink().start()
        self.env = bench_env(
            DB,
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{self.pg_proxy.port}/{DB}",
            REDIS_URL=self.cache.url(0),
            CELERY_BROKER_URL=self.broker.url(0),
            PROVIDER="stripe",
            PROVIDER_API_KEY="sk_bench_faults",
            PROVIDER_WEBHOOK_SECRET="whsec_bench_faults",
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(self.smtp.port),
            LOG_LEVEL="WARNING",
            # The rate limiter on, as in production (bench_env turns it off), but above the load's own rate.
            RATE_LIMIT_CREATE_PER_MINUTE="6000",
            RATE_LIMIT_DECIDE_PER_MINUTE="6000",
        )
        self.direct_db = f"{PG}/{DB}"
        self.simulator = Simulator(
            db_path=tmp / "sim.sqlite3",
            api_key="sk_bench_faults",
            webhook_secret="whsec_bench_faults",
            webhook_url=f"http://127.0.0.1:{WEB_PORT}/webhooks/payments",
            stall=10.0,
            webhook_backoff=1.0,
            env=self.env,
        )
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.beat: subprocess.Popen | None = None
        self.worker_log = tmp / "worker.log"
        self._logs: list = []

    def start(self) -> None:
        recreate_database(DB, {**self.env, "DATABASE_URL": self.direct_db})
        self.key = manage(self.env, "create_api_key", "bench", "--scopes", "orders:write,refunds:create,refunds:read")
        self.key = self.key.strip().splitlines()[-1]
        self.simulator.start()
        self.env["PROVIDER_API_BASE"] = self.simulator.url
        self.start_worker()
        self.beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=WARNING",
             "--schedule", str(self.tmp / "beat-schedule")],
            cwd=ROOT, env=self.env, stdout=self._log(self.tmp / "beat.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.web = start_gunicorn(self.env, WEB_PORT, workers=2)

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING", "--concurrency=2",
             "--without-gossip", "--without-mingle", "-n", "faults@%h"],
            cwd=ROOT, env=self.env, stdout=self._log(self.worker_log), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def _log(self, path: Path):
        handle = open(path, "ab")  # noqa: SIM115 - the child process holds it; closed with the run
        self._logs.append(handle)
        return handle

    def kill_worker(self) -> None:
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)

    def web_worker_pids(self) -> list[int]:
        assert self.web is not None
        out = subprocess.run(["pgrep", "-P", str(self.web.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        for proc in (self.web, self.beat):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
        for proc in (self.web, self.beat, self.worker):
            if proc is None:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.simulator.stop()
        self.broker.kill()
        self.cache.kill()
        self.smtp.stop()
        self.pg_proxy.stop()

    def queue_depth(self) -> int:
        """Tasks waiting in the broker: the queue lists plus those delivered but unacknowledged (ETA tasks)."""
        try:
            client = redis.Redis.from_url(self.broker.url(0), socket_timeout=1)
            depth = sum(client.llen(key) for key in client.scan_iter(_type="list"))
            return depth + client.hlen("unacked")
        except redis.RedisError:
            return -1


# --- faults -------------------------------------------------------------------------------------------


def _outage(stop: Callable[[], None], start: Callable[[], None], seconds: float) -> Callable[[Stack, Phase], None]:
    def inject(stack: Stack, phase: Phase) -> None:
        stop()
        time.sleep(seconds)
        start()

    return inject


def broker_down(stack: Stack, phase: Phase) -> None:
    _outage(stack.broker.kill, stack.broker.start, 10)(stack, phase)


def cache_down(stack: Stack, phase: Phase) -> None:
    _outage(stack.cache.kill, stack.cache.start, 10)(stack, phase)


def database_restart(stack: Stack, phase: Phase) -> None:
    _outage(stack.pg_proxy.cut, stack.pg_proxy.restore, 6)(stack, phase)


def worker_killed(stack: Stack, phase: Phase) -> None:
    _outage(stack.kill_worker, stack.start_worker, 3)(stack, phase)


def web_worker_killed(stack: Stack, phase: Phase) -> None:
    for _ in range(3):
        pids = stack.web_worker_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
        time.sleep(2)


def provider_outage(stack: Stack, phase: Phase) -> None:
    _outage(stack.simulator.stop, stack.simulator.start, 30)(stack, phase)


def verify_under_load(stack: Stack, phase: Phase) -> None:
    results = []
    for _ in range(8):
        proc = subprocess.run(
            [sys.executable, "manage.py", "verify_audit"], cwd=ROOT, env=stack.env, capture_output=True, text=True
        )
        results.append(proc.returncode)
        if proc.returncode:
            phase.notes.setdefault("verify_errors", []).append(proc.stderr.strip().splitlines()[:1])
    phase.notes["verify_audit_runs"] = len(results)
    phase.notes["verify_audit_failed"] = sum(1 for rc in results if rc)


SEED_AUDIT = """
from audit.services import audit_record_many, audit_seal_pending
from core.actor import Actor
from django.db import transaction
actor = Actor.system("bench")
for _ in range(30):
    with transaction.atomic():
        audit_record_many([{"actor": actor, "action": "bench.seed", "note": "x" * 200} for _ in range(2000)])
while audit_seal_pending():
    pass
"""


def long_chain(stack: Stack) -> None:
    """60,000 sealed events first: a walk long enough for the sealer to commit while verify_audit reads."""
    manage(stack.env, "shell", "-c", SEED_AUDIT)


PHASES = [
    Phase("baseline", "no fault, 5 refunds/s, 1 in 10 payments answers 5xx twice"),
    Phase("broker_down", "broker Redis killed for 10 s (restarts empty)", broker_down),
    Phase("cache_down", "cache Redis killed for 10 s (restarts empty)", cache_down),
    Phase("database_restart", "every PostgreSQL session dropped, connections refused for 6 s", database_restart),
    Phase("worker_killed", "Celery worker SIGKILLed, back after 3 s", worker_killed),
    Phase("web_worker_killed", "a gunicorn worker SIGKILLed three times, 2 s apart", web_worker_killed),
    Phase("provider_outage", "simulator down for 30 s", provider_outage, duration=40.0, fault_at=5.0),
    Phase(
        "verify_under_load",
        "verify_audit run 8 times during 10 refunds/s, on a chain of 60,000 events",
        verify_under_load,
        rate=10.0,
        prepare=long_chain,
    ),
    Phase("healthy_15_per_s", "no fault, 15 refunds/s, 1 in 10 payments answers 5xx twice", rate=15.0),
]


# --- load and measurement --------------------------------------------------------------------------


def push_orders(stack: Stack, prefix: str, count: int) -> list[tuple[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=30)
    headers = {"Authorization": f"Bearer {stack.key}", "Content-Type": "application/json"}
    orders = []
    for n in range(count):
        order_id = f"{prefix}-{n:05d}"
        mode = "5xx" if n % 10 == 9 else "ok"
        payment_id = f"pi_sim_{mode}_{order_id.lower().replace('-', '')}"
        body = {
            "order_id": order_id,
            "currency": "USD",
            "customer": {"id": f"c-{order_id}", "email": f"{order_id.lower()}@example.com"},
            "lines": [{"sku": "SKU", "unit_amount_minor": 9091, "tax_minor": 909}],
            "payment": {
                "provider_payment_id": payment_id,
                "rail": "card",
                "amount_minor": 10000,
                "status": "captured",
                "captured_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            },
        }
        conn.request("POST", "/v1/orders", body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 201:
            raise RuntimeError(f"order push failed: {response.status} {data[:200]!r}")
        orders.append((order_id, payment_id))
    conn.close()
    return orders


def fire(stack: Stack, order_id: str, answers: list, lock: threading.Lock) -> None:
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=30)
        conn.request(
            "POST",
            f"/v1/orders/{order_id}/refunds",
            body=json.dumps({"amount_minor": 1000, "currency": "USD", "reason": "not_received"}),
            headers={
                "Authorization": f"Bearer {stack.key}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"create-{order_id}",
            },
        )
        response = conn.getresponse()
        data = response.read()
        status: int | str = response.status
        try:
            code = json.loads(data).get("code", "") if status >= 400 else ""
        except ValueError:
            code = "not JSON"
        retry_after = response.getheader("Retry-After")
        conn.close()
    except OSError as error:
        status, code, retry_after = "no answer", type(error).__name__, None
    with lock:
        answers.append((order_id, status, code, retry_after, time.monotonic() - started))


def emails_sent(stack: Stack) -> collections.Counter:
    """(order id, message id) -> how many times the SMTP sink received that email."""
    counts: collections.Counter = collections.Counter()
    with stack.smtp._lock:
        raw = list(stack.smtp.messages)
    for message in raw:
        parsed = email.message_from_bytes(message, policy=email.policy.default)
        match = re.search(r"· (\S+)$", str(parsed["Subject"] or ""))
        if match:
            counts[(match.group(1), str(parsed["X-Refund-Message"]))] += 1
    return counts


def phase_state(stack: Stack, order_ids: list[str]) -> dict:
    with psycopg.connect(stack.direct_db) as conn:
        refunds = conn.execute(
            "SELECT o.order_id, r.id, r.state FROM refunds_refund r JOIN refunds_order o ON o.id = r.order_id "
            "WHERE o.order_id = ANY(%s)",
            (order_ids,),
        ).fetchall()
        refund_ids = [row[1] for row in refunds]
        outbox = dict(
            conn.execute(
                "SELECT status, count(*) FROM refunds_outboxmessage WHERE refund_id = ANY(%s) GROUP BY status",
                (refund_ids,),
            ).fetchall()
        )
        expected = conn.execute(
            "SELECT o.order_id, e.action FROM audit_auditevent e JOIN refunds_refund r ON r.id = e.refund_id "
            "JOIN refunds_order o ON o.id = r.order_id WHERE r.id = ANY(%s) AND e.action = ANY(%s)",
            (refund_ids, list(EMAILS_FOR_ACTION)),
        ).fetchall()
    return {
        "refunds": {order_id: state for order_id, _, state in refunds},
        "outbox": outbox,
        "expected_emails": {(order_id, EMAILS_FOR_ACTION[action]) for order_id, action in expected},
    }


def invariants(stack: Stack, orders: list[tuple[str, str]], state: dict) -> dict:
    with psycopg.connect(stack.direct_db) as conn:
        over = conn.execute(
            "SELECT count(*) FROM (SELECT p.id FROM refunds_payment p JOIN refunds_refund r ON r.payment_id = p.id "
            "WHERE r.state NOT IN ('failed', 'canceled', 'denied') GROUP BY p.id, p.amount_minor "
            "HAVING sum(r.amount_minor) > p.amount_minor) t"
        ).fetchone()[0]
        unbalanced = conn.execute(
            "SELECT count(*) FROM (SELECT currency FROM ledger_posting GROUP BY currency "
            "HAVING sum(amount_minor) <> 0) t"
        ).fetchone()[0]
    provider_counts = collections.Counter()
    for order_id, payment_id in orders:
        if order_id in state["refunds"]:
            try:
                made = [r for r in stack.simulator.refunds_for(payment_id) if r["status"] != "failed"]
            except Exception:  # noqa: BLE001 - a simulator hiccup is reported, not fatal to the run
                made = [None, None, None]
            provider_counts[len(made)] += 1
    sent = emails_sent(stack)
    expected = state["expected_emails"]
    verify = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"], cwd=ROOT, env=stack.env, capture_output=True, text=True
    )
    return {
        "over_refunded_payments": over,
        "provider_refunds_per_refund": {str(k): v for k, v in sorted(provider_counts.items())},
        "ledger_unbalanced_currencies": unbalanced,
        "emails_expected": len(expected),
        "emails_lost": sum(1 for item in expected if sent[item] == 0),
        "emails_duplicated": sum(1 for item in expected if sent[item] > 1),
        "verify_audit": "OK" if verify.returncode == 0 else verify.stderr.strip().splitlines()[-1][:120],
    }


def circuit_opens(stack: Stack, since: int) -> tuple[int, int]:
    text = stack.worker_log.read_bytes()
    return text[since:].count(b"MSG.provider.circuit_open"), len(text)


def run_phase(stack: Stack, phase: Phase, index: int) -> dict:
    count = int(phase.rate * phase.duration)
    if phase.prepare is not None:
        phase.prepare(stack)
    orders = push_orders(stack, f"F{index}", count)
    order_ids = [order_id for order_id, _ in orders]
    answers: list = []
    lock = threading.Lock()
    depth_max = [0]
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.wait(0.5):
            depth_max[0] = max(depth_max[0], stack.queue_depth())

    _, log_mark = circuit_opens(stack, 0)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    fault_thread = None
    started = time.monotonic()
    threads = []
    for n, order_id in enumerate(order_ids):
        at = started + n / phase.rate
        if phase.inject is not None and fault_thread is None and at - started >= phase.fault_at:

            def run_fault() -> None:
                phase.inject(stack, phase)
                phase.restored_at = time.monotonic()

            fault_thread = threading.Thread(target=run_fault, daemon=True)
            fault_thread.start()
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=fire, args=(stack, order_id, answers, lock), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    if fault_thread is not None:
        fault_thread.join()
    load_ended = time.monotonic()
    since = phase.restored_at or load_ended
    money_at = emails_at = None
    state: dict = {}
    while True:
        state = phase_state(stack, order_ids)
        now = time.monotonic()
        settled = all(s in TERMINAL for s in state["refunds"].values())
        drained = not state["outbox"].get("pending")
        if money_at is None and settled and drained:
            money_at = now
        if money_at is not None:
            sent = emails_sent(stack)
            if all(sent[item] for item in state["expected_emails"]):
                emails_at = now
                break
            if now - money_at > EMAIL_GRACE_S:
                break
        elif now - load_ended > MONEY_CONVERGE_LIMIT_S:
            break
        time.sleep(0.5)
    stop_sampling.set()
    opens, _ = circuit_opens(stack, log_mark)
    statuses = collections.Counter(str(status) + (f" {code}" if code else "") for _, status, code, _, _ in answers)
    committed = set(state["refunds"])
    errors_for_committed = sum(
        1 for order_id, status, *_ in answers if order_id in committed and status not in (201, 202)
    )
    errors_without_retry_after = sum(1 for _, status, _, retry_after, _ in answers if status == 503 and not retry_after)
    return {
        "what": phase.what,
        "rate_per_s": phase.rate,
        "creates": len(answers),
        "answers": dict(sorted(statuses.items())),
        "errors_for_committed_refunds": errors_for_committed,
        "refused_not_committed": sum(1 for order_id, *_ in answers if order_id not in committed),
        "503_without_retry_after": errors_without_retry_after,
        "slowest_answer_s": round(max((a[4] for a in answers), default=0), 2),
        "money_converged_s": round(money_at - since, 1) if money_at else None,
        "emails_converged_s": round(emails_at - since, 1) if emails_at else None,
        "not_settled": sum(1 for s in state["refunds"].values() if s not in TERMINAL),
        "outbox": state["outbox"],
        "max_queued_tasks": depth_max[0],
        "circuit_opens": opens,
        **invariants(stack, orders, state),
        **phase.notes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated phase names (default: all)")
    parser.add_argument("--label", default="", help="name of this run in the results file (e.g. before, after)")
    args = parser.parse_args()
    wanted = {name for name in args.only.split(",") if name}
    phases = [phase for phase in PHASES if not wanted or phase.name in wanted]
    results: dict = {}
    logs = []
    for index, phase in enumerate(phases, start=1):
        # A stack of its own per fault: what one fault broke cannot spoil the next one's figures.
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-faults-{phase.name}-"))
        logs.append(str(tmp))
        stack = Stack(tmp)
        try:
            stack.start()
            print(f"== {phase.name}: {phase.what}", flush=True)
            results[phase.name] = run_phase(stack, phase, index)
            print(json.dumps(results[phase.name], indent=1, default=str), flush=True)
        finally:
            stack.stop()
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    document = {
        "label": args.label,
        "commit": git.stdout.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "setup": "gunicorn 2 workers, 1 Celery worker (concurrency 2), separate beat, simulator with webhooks, "
        "PostgreSQL via a cuttable proxy, private Redis for broker and for cache, SMTP sink; production defaults",
        "phases": results,
    }
    name = f"faults-{args.label}" if args.label else "faults"
    earlier = RESULTS / f"{name}.json"
    if wanted and earlier.exists():
        # A partial run (--only) replaces its phases in the file and keeps the others.
        merged = json.loads(earlier.read_text())
        merged["phases"].update(results)
        merged["commit"] = f"{merged['commit']}; {', '.join(results)} at {document['commit']}"
        results, document = merged["phases"], merged
    path = write_results(name, document)
    print(table(results))
    print(f"written to {path}; logs in {', '.join(logs)}")


def table(results: dict) -> str:
    rows = [
        "| fault | answers | errors for committed | converged (money / emails) | lost / dup emails | "
        "max queued tasks | breaker opens | invariants |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        answers = ", ".join(f"{k}: {v}" for k, v in r["answers"].items())
        ok = (
            r["over_refunded_payments"] == 0
            and set(r["provider_refunds_per_refund"]) <= {"1"}
            and r["ledger_unbalanced_currencies"] == 0
            and r["verify_audit"] == "OK"
        )
        extra = f"; verify_audit failed {r['verify_audit_failed']}/8 under load" if "verify_audit_failed" in r else ""
        rows.append(
            f"| {name} | {answers} | {r['errors_for_committed_refunds']} | "
            f"{r['money_converged_s']} s / {r['emails_converged_s']} s | {r['emails_lost']} / "
            f"{r['emails_duplicated']} | {r['max_queued_tasks']} | {r['circuit_opens']} | "
            f"{'held' if ok else 'BROKEN'}{extra} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
