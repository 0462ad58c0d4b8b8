"""API latency and throughput: refund create (distinct orders / one order) and read.

Starts gunicorn (2 workers) on a fresh PostgreSQL database, seeds orders with
the API itself, then drives it with N concurrent keep-alive clients in
threads of this process. Writes benchmarks/results/api_load.json.

Targets on the 2-core machine (issue #2): create p95 ≤ 25 ms and read p95 ≤
10 ms at 4 concurrent clients; ≥ 150 creates/s at saturation.

    .venv/bin/python benchmarks/api_load.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from common import bench_env, manage, percentiles, recreate_database, start_gunicorn, write_results

PORT = 8791
DB = "refund_desk_bench_api"


class Client:
    def __init__(self, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None, **headers: str) -> tuple[int, float, bytes]:
        started = time.perf_counter()
        self.conn.request(
            method, path, body=json.dumps(body) if body is not None else None, headers={**self.headers, **headers}
        )
        response = self.conn.getresponse()
        data = response.read()
        return response.status, (time.perf_counter() - started) * 1000, data


def push_orders(key: str, count: int, amount_minor: int, prefix: str) -> list[str]:
    client = Client(key)
    ids = []
    for n in range(count):
        order_id = f"{prefix}-{n:06d}"
        status, _, body = client.call(
            "POST",
            "/v1/orders",
            {
                "order_id": order_id,
                "currency": "USD",
                # One customer per order: every create takes the full auto-approve path
                # (ledger, outbox), never the cheaper velocity review.
                "customer": {"id": f"bench-{prefix}-{n}"},
                "lines": [{"unit_amount_minor": amount_minor - amount_minor // 11, "tax_minor": amount_minor // 11}],
                "payment": {
                    "provider_payment_id": f"pi_bench_{order_id}",
                    "rail": "card",
                    "amount_minor": amount_minor,
                    "status": "captured",
                    "captured_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
                },
            },
        )
        assert status == 201, body
        ids.append(order_id)
    return ids


def run(concurrency: int, jobs: list, key: str) -> tuple[list[float], float, dict[int, int]]:
    """Run `jobs` (callables taking a Client) on `concurrency` threads; return latencies, elapsed, statuses."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    local = threading.local()

    def work(job):
        if not hasattr(local, "client"):
            local.client = Client(key)
        status, ms, _ = job(local.client)
        with lock:
            latencies.append(ms)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(work, jobs))
    return latencies, time.perf_counter() - started, statuses


def create_job(order_id: str, n: int, amount: int):
    body = {"amount_minor": amount, "currency": "USD", "reason": "not_received"}
    return lambda c: c.call("POST", f"/v1/orders/{order_id}/refunds", body, **{"Idempotency-Key": f"b-{order_id}-{n}"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (gthread when > 1)")
    args = parser.parse_args()
    n = args.requests
    env = bench_env(DB)
    recreate_database(DB, env)
    key = (
        manage(env, "create_api_key", "bench", "--scopes", "orders:write,refunds:create,refunds:read")
        .strip()
        .splitlines()[-1]
    )
    server = start_gunicorn(env, PORT, workers=2, threads=args.threads)
    try:
        orders = push_orders(key, 3 * n + 200, 100000, "D")
        single = push_orders(key, 1, 10**12, "S")[0]
        results: dict = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "server": f"gunicorn, 2 workers x {args.threads} thread(s), PostgreSQL",
            "requests_per_scenario": n,
        }
        # Warm-up: connections, caches, the chain head.
        run(4, [create_job(orders.pop(), 0, 100) for _ in range(100)], key)

        lat, elapsed, st = run(4, [create_job(orders.pop(), 0, 1000) for _ in range(n)], key)
        results["create_distinct_orders_c4"] = {
            **percentiles(lat),
            "throughput_rps": round(n / elapsed, 1),
            "statuses": st,
        }

        lat, elapsed, st = run(4, [create_job(single, i, 100) for i in range(n)], key)
        results["create_one_order_c4"] = {**percentiles(lat), "throughput_rps": round(n / elapsed, 1), "statuses": st}

        created = [json.loads(create_job(orders.pop(), 0, 500)(Client(key))[2])["refund_id"] for _ in range(50)]
        lat, elapsed, st = run(
            4, [(lambda rid: lambda c: c.call("GET", f"/v1/refunds/{rid}"))(created[i % 50]) for i in range(n)], key
        )
        results["read_c4"] = {**percentiles(lat), "throughput_rps": round(n / elapsed, 1), "statuses": st}

        lat, elapsed, st = run(16, [create_job(orders.pop(), 0, 1000) for _ in range(n)], key)
        results["create_saturation_c16"] = {**percentiles(lat), "throughput_rps": round(n / elapsed, 1), "statuses": st}
    finally:
        server.terminate()
        server.wait(timeout=10)
    results["targets"] = {"create_p95_ms_c4": 25, "read_p95_ms_c4": 10, "create_saturation_rps": 150}
    path = write_results("api_load", results)
    print(json.dumps(results, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
