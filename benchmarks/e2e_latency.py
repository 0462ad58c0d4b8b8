"""Time from refund create (auto-approved) to `completed`, simulator in `ok` mode.

A steady load of RATE creates per second for DURATION seconds against gunicorn
(2 workers), one Celery worker and the provider simulator, on a fresh
PostgreSQL database and Redis broker. Latency per refund is measured by the
server's own timestamps (completed_at - created_at), so polling does not
distort it. Writes benchmarks/results/e2e_latency.json.

Target (issue #3): p95 ≤ 1 s end to end at 20 refunds/s.

    .venv/bin/python benchmarks/e2e_latency.py [--rate 20] [--duration 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from api_load import Client, push_orders
from common import PG, ROOT, bench_env, manage, percentiles, recreate_database, start_gunicorn, write_results

sys.path.insert(0, str(ROOT))  # the one simulator launcher lives with the tests
from tests.support.simulator import Simulator

DB = "refund_desk_bench_e2e"
WEB_PORT, SIM_PORT = 8792, 8793


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-e2e-")
    env = bench_env(
        DB,
        PROVIDER="stripe",
        PROVIDER_API_BASE=f"http://127.0.0.1:{SIM_PORT}",
        PROVIDER_API_KEY="sk_bench",
        PROVIDER_WEBHOOK_SECRET="whsec_bench",
        CELERY_TASK_DEFAULT_QUEUE="bench-e2e",
    )
    recreate_database(DB, env)
    key = manage(env, "create_api_key", "bench", "--scopes", "orders:write,refunds:create,refunds:read").strip()
    key = key.splitlines()[-1]
    simulator = Simulator(
        db_path=Path(tmp) / "sim.sqlite3",
        api_key="sk_bench",
        webhook_secret="whsec_bench",
        webhook_url=f"http://127.0.0.1:{WEB_PORT}/webhooks/payments",
        port=SIM_PORT,
        stall=10.0,
        webhook_backoff=1.0,
        env=env,
    ).start()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
             f"--concurrency={args.worker_concurrency}", "--without-gossip", "--without-mingle",
             # Embedded beat: the audit sealer and the outbox sweeper run as in production.
             "-B", "--schedule", f"{tmp}/beat-schedule"],
            cwd=ROOT, env=env,
        ),
    ]  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f"],
        env=env,
        cwd=ROOT,
        capture_output=True,
    )
    web = start_gunicorn(env, WEB_PORT, workers=2)
    procs.append(web)
    try:
        total = int(args.rate * args.duration)
        import api_load

        api_load.PORT = WEB_PORT
        orders = push_orders(key, total + 20, 10000, "E")
        interval = 1.0 / args.rate
        threads = []
        statuses: list[int] = []

        def fire(order_id: str) -> None:
            status, _, _ = Client(key).call(
                "POST", f"/v1/orders/{order_id}/refunds",
                {"amount_minor": 1000, "currency": "USD", "reason": "not_received"}, **{"Idempotency-Key": order_id},
            )  # fmt: skip
            statuses.append(status)

        for order_id in orders[:20]:  # warm-up
            fire(order_id)
        time.sleep(2)
        statuses.clear()
        started = time.monotonic()
        for n, order_id in enumerate(orders[20 : 20 + total]):
            delay = started + n * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            thread = threading.Thread(target=fire, args=(order_id,))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        deadline = time.monotonic() + 120
        with psycopg.connect(f"{PG}/{DB}") as conn:
            while time.monotonic() < deadline:
                done = conn.execute(
                    "SELECT count(*) FROM refunds_refund r JOIN refunds_order o ON o.id = r.order_id "
                    "WHERE o.order_id LIKE 'E-%%' AND r.state = 'completed'"
                ).fetchone()[0]
                if done >= total + 20:
                    break
                time.sleep(0.5)
            rows = conn.execute(
                "SELECT EXTRACT(EPOCH FROM (r.completed_at - r.created_at)) * 1000 FROM refunds_refund r "
                "JOIN refunds_order o ON o.id = r.order_id WHERE o.order_id = ANY(%s) AND r.completed_at IS NOT NULL",
                (orders[20 : 20 + total],),
            ).fetchall()
            time.sleep(4)  # two sealer periods: the chain must have caught up with the load
            events, sealed = conn.execute(
                "SELECT (SELECT count(*) FROM audit_auditevent), (SELECT count(*) FROM audit_auditseal)"
            ).fetchone()
        latencies = [float(r[0]) for r in rows]
        results = {
            "rate_per_s": args.rate,
            "duration_s": args.duration,
            "refunds": total,
            "completed": len(latencies),
            "create_statuses": {str(s): statuses.count(s) for s in set(statuses)},
            "create_to_completed": percentiles(latencies),
            "audit": {"events": events, "sealed": sealed},
            "setup": f"gunicorn 2 workers, 1 celery worker (concurrency {args.worker_concurrency}) with embedded beat "
            "(audit sealer, outbox sweeper), simulator ok mode, PostgreSQL, Redis broker",
            "target_p95_ms": 1000,
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        simulator.stop()
    path = write_results("e2e_latency", results)
    print(json.dumps(results, indent=2))
    print(f"written to {path}")
    Path(tmp).exists()


if __name__ == "__main__":
    main()
