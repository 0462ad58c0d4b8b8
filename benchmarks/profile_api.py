"""Where an API create and read spend their time: N of each in-process, under cProfile, against PostgreSQL.

No HTTP server and no load: Django's WSGI handler is called directly with
the environ gunicorn would build, so the profile is the request's own work
(every middleware, DRF, the services, the SQL round trips, the broker
publishes after commit) and nothing of a client or a socket. Settings are
production's (`config.settings.base`, DEBUG=0: no query logging) with the
rate limits off; the statement counts come from a separate pass under
`CaptureQueriesContext`, which turns query logging on and so is kept out
of the timed and profiled passes.

A fresh database per run (dropped at the end unless --keep-db); the Celery
messages a create publishes go to queues of this run's own name in
BENCH_REDIS, deleted at the end.

    .venv/bin/python benchmarks/profile_api.py --requests 300 --out benchmarks/results/profile-api-after.txt
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import PG, ROOT, bench_env, percentiles, recreate_database

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/2")


def _environ(method: str, path: str, key: str, body: bytes = b"", **headers: str) -> dict:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.update({f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()})
    return environ


class Caller:
    """Calls the WSGI application as gunicorn's worker would: environ in, status and body bytes out."""

    def __init__(self, application, key: str) -> None:
        self.application = application
        self.key = key

    def __call__(self, method: str, path: str, payload: dict | None = None, **headers: str) -> tuple[int, bytes]:
        body = json.dumps(payload).encode() if payload is not None else b""
        got: dict = {}

        def start_response(status, response_headers, exc_info=None):
            got["status"] = int(status.split(" ", 1)[0])

        response = self.application(_environ(method, path, self.key, body, **headers), start_response)
        try:
            data = b"".join(response)
        finally:
            response.close()  # request_finished: what a server does after each answer
        return got["status"], data


def order_body(order_id: str) -> dict:
    amount = 100000
    return {
        "order_id": order_id,
        "currency": "USD",
        # One customer per order: every create takes the full auto-approve path (ledger, outbox, events),
        # never the cheaper velocity review (as benchmarks/api_load.py).
        "customer": {"id": f"profile-{order_id}"},
        "lines": [{"sku": "SKU-1", "unit_amount_minor": amount - amount // 11, "tax_minor": amount // 11}],
        "payment": {
            "provider_payment_id": f"pi_profile_{order_id}",
            "rail": "card",
            "amount_minor": amount,
            "status": "captured",
            "captured_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        },
    }


def create(call: Caller, order_id: str, key: str | None = None) -> tuple[int, bytes]:
    body = {"amount_minor": 1000, "currency": "USD", "reason": "not_received"}
    return call("POST", f"/v1/orders/{order_id}/refunds", body, **{"Idempotency-Key": key or f"p-{order_id}"})


def read(call: Caller, refund_id: str) -> tuple[int, bytes]:
    return call("GET", f"/v1/refunds/{refund_id}")


def _short(text: str) -> str:
    """pstats lines with paths relative to the repository or site-packages."""
    site = next((p for p in sys.path if p.endswith("site-packages")), None)
    if site:
        text = text.replace(site + "/", "")
    return text.replace(str(ROOT) + "/", "")


def profile_table(profile: cProfile.Profile, sort: str, limit: int = 30) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(profile, stream=stream)
    stats.sort_stats(sort).print_stats(limit)
    lines = stream.getvalue().splitlines()
    # Drop pstats' preamble up to the totals line: the header of the file says what ran.
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    return _short("\n".join(line.rstrip() for line in lines[start:] if line.strip()))


def _area(filename: str) -> str:
    """The part of the stack a function belongs to, for the breakdown of own time."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C: str, dict, socket, json encoder ...)"
    if "site-packages/" not in filename:
        if filename.startswith(str(ROOT) + "/"):
            return f"ours: {filename[len(str(ROOT)) + 1 :].split('/', 1)[0]}/"
        return "python stdlib (json, copy, inspect, uuid ...)"
    path = filename.split("site-packages/", 1)[1]
    for prefix, area in (
        ("psycopg", "psycopg (driver; `wait` = waiting for PostgreSQL)"),
        ("django/db/models/sql", "django ORM: SQL compilation"),
        ("django/db/models", "django ORM: models, querysets"),
        ("django/db", "django db: backends, transactions"),
        ("django/", "django: handler, middleware, signals, other"),
        ("rest_framework", "DRF: request, fields, serializers"),
        ("kombu", "celery/kombu/redis: publishing tasks"),
        ("celery", "celery/kombu/redis: publishing tasks"),
        ("redis", "celery/kombu/redis: publishing tasks"),
    ):
        if path.startswith(prefix):
            return area
    return f"third party: {path.split('/', 1)[0]}"


def breakdown(profile: cProfile.Profile) -> str:
    """Own time summed by part of the stack: where the request's CPU (and its waits) go."""
    stats = pstats.Stats(profile)
    totals: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():
        area = _area(filename)
        totals[area] = totals.get(area, 0.0) + tottime
    whole = sum(totals.values()) or 1.0
    rows = sorted(totals.items(), key=lambda item: -item[1])
    return "\n".join(f"{seconds:8.3f} s {100 * seconds / whole:5.1f} %  {area}" for area, seconds in rows)


def statement_counts(call: Caller, orders: list[str], samples: int) -> tuple[dict, list[str], list[str]]:
    """Statements per create and per read (SAVEPOINT bookkeeping counted apart), and one of each listed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    creates, reads = [], []
    create_sql: list[str] = []
    read_sql: list[str] = []
    for order_id in orders[:samples]:
        with CaptureQueriesContext(connection) as captured:
            status, data = create(call, order_id)
        assert status == 202, data
        creates.append([q["sql"] for q in captured.captured_queries])
        refund_id = json.loads(data)["refund_id"]
        with CaptureQueriesContext(connection) as captured:
            status, data = read(call, refund_id)
        assert status == 200, data
        reads.append([q["sql"] for q in captured.captured_queries])
    create_sql, read_sql = creates[-1], reads[-1]

    def counts(runs: list[list[str]]) -> dict:
        work = sorted({sum(1 for q in run if "SAVEPOINT" not in q) for run in runs})
        savepoints = sorted({sum(1 for q in run if "SAVEPOINT" in q) for run in runs})
        return {"statements": work, "savepoint_statements": savepoints}

    return {"create": counts(creates), "read": counts(reads)}, create_sql, read_sql


def timed(fn, items: list) -> tuple[list[float], list[float], list]:
    """Each call's wall time and this process's CPU time (ms): on a shared machine the CPU time is the steadier."""
    wall, cpu, results = [], [], []
    for item in items:
        started, cpu_started = time.perf_counter(), time.process_time()
        results.append(fn(item))
        cpu.append((time.process_time() - cpu_started) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return wall, cpu, results


def purge_queues(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    for pattern in (f"{queue}*", f"_kombu.binding.{queue}*"):
        for name in client.scan_iter(match=pattern):
            client.delete(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="creates and reads per pass (default 300)")
    parser.add_argument("--samples", type=int, default=5, help="requests of each kind counted for statements")
    parser.add_argument("--db", default="rd_api_profile")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--pstats", type=Path, help="also write the raw profiles to this directory")
    args = parser.parse_args()
    n = args.requests

    queue = f"profile-api-{os.getpid()}"
    env = bench_env(args.db, REDIS_URL=REDIS, CELERY_BROKER_URL=REDIS, CELERY_TASK_DEFAULT_QUEUE=queue)
    recreate_database(args.db, env)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "create_api_key", "profile", scopes="orders:write,refunds:create,refunds:read", stdout=out, stderr=io.StringIO()
    )
    call = Caller(WSGIHandler(), out.getvalue().strip().splitlines()[-1])
    try:
        warm, count_n = 30, args.samples
        orders = [f"P-{i:06d}" for i in range(warm + count_n + 2 * n)]
        for order_id in orders:
            status, data = call("POST", "/v1/orders", order_body(order_id))
            assert status == 201, data
        # Warm-up: connections, the policy, content types, imports done lazily on first use.
        for order_id in orders[:warm]:
            status, data = create(call, order_id)
            assert status == 202, data
            read(call, json.loads(data)["refund_id"])
        orders = orders[warm:]
        counted, create_sql, read_sql = statement_counts(call, orders, count_n)
        orders = orders[count_n:]

        # Timed pass, no profiler: the in-process latency of each kind.
        timed_orders, profiled_orders = orders[:n], orders[n:]
        create_ms, create_cpu, answers = timed(lambda o: create(call, o), timed_orders)
        assert all(status == 202 for status, _ in answers), answers[:3]
        refund_ids = [json.loads(data)["refund_id"] for _, data in answers]
        read_ms, read_cpu, answers = timed(lambda r: read(call, r), refund_ids)
        assert all(status == 200 for status, _ in answers)
        replay_ms, replay_cpu, answers = timed(lambda o: create(call, o), timed_orders[: min(n, 100)])
        assert all(status == 202 for status, _ in answers)

        create_profile, read_profile = cProfile.Profile(), cProfile.Profile()
        created = []
        create_profile.enable()
        for order_id in profiled_orders:
            created.append(create(call, order_id))
        create_profile.disable()
        assert all(status == 202 for status, _ in created)
        read_profile.enable()
        for _, data in created:
            read(call, json.loads(data)["refund_id"])
        read_profile.disable()
    finally:
        purge_queues(queue)
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    report = [
        "# API create and read, in-process (benchmarks/profile_api.py)",
        f"commit {commit.stdout.strip()}{' (+ uncommitted changes)' if dirty.stdout.strip() else ''}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs",
        "settings config.settings.base, DEBUG=0, rate limits off, PostgreSQL, Celery broker Redis; "
        f"WSGIHandler called directly; {n} creates (distinct orders, auto-approved) and {n} reads per pass",
        "",
        "## Statements per request (CaptureQueriesContext; SAVEPOINT/RELEASE counted apart)",
        json.dumps(counted),
        "",
        "## In-process latency, no profiler (ms): wall clock, then this process's CPU time",
        f"create        wall {json.dumps(percentiles(create_ms))}",
        f"create        cpu  {json.dumps(percentiles(create_cpu))}",
        f"create replay wall {json.dumps(percentiles(replay_ms))}",
        f"create replay cpu  {json.dumps(percentiles(replay_cpu))}",
        f"read          wall {json.dumps(percentiles(read_ms))}",
        f"read          cpu  {json.dumps(percentiles(read_cpu))}",
        "",
        "## Python function calls per request (cProfile; the same on a busy or an idle machine, unlike times)",
        f"create {round(pstats.Stats(create_profile).total_calls / n)}  "
        f"read {round(pstats.Stats(read_profile).total_calls / n)}",
        "",
        "## One create's statements",
        *[f"{i + 1:2d}. {sql[:160]}" for i, sql in enumerate(create_sql)],
        "",
        "## One read's statements",
        *[f"{i + 1:2d}. {sql[:160]}" for i, sql in enumerate(read_sql)],
        "",
        f"## Creates: own time by part of the stack ({n} requests, under the profiler)",
        breakdown(create_profile),
        "",
        f"## Reads: own time by part of the stack ({n} requests, under the profiler)",
        breakdown(read_profile),
        "",
        f"## Creates: top 30 by cumulative time ({n} requests)",
        profile_table(create_profile, "cumulative"),
        "",
        f"## Creates: top 30 by own time ({n} requests)",
        profile_table(create_profile, "tottime"),
        "",
        f"## Reads: top 30 by cumulative time ({n} requests)",
        profile_table(read_profile, "cumulative"),
        "",
        f"## Reads: top 30 by own time ({n} requests)",
        profile_table(read_profile, "tottime"),
        "",
    ]
    if args.pstats:
        args.pstats.mkdir(parents=True, exist_ok=True)
        create_profile.dump_stats(args.pstats / "create.pstats")
        read_profile.dump_stats(args.pstats / "read.pstats")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(report))
    print("\n".join(report[:22]))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
