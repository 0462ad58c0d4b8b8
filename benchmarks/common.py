"""Shared pieces of the benchmarks: a dedicated database, a gunicorn server, percentiles."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def bench_env(db_name: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DATABASE_URL=f"{PG}/{db_name}",
        REDIS_URL=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/11"),
        CELERY_BROKER_URL=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/11"),
        LOG_LEVEL="WARNING",
        RATE_LIMIT_CREATE_PER_MINUTE="0",
        RATE_LIMIT_DECIDE_PER_MINUTE="0",
        PYTHONPATH=str(ROOT),
        # Production settings (DEBUG=0) refuse to start without secrets of their own: fresh ones per run.
        SECRET_KEY=secrets.token_urlsafe(50),
        PROVIDER_API_KEY=f"sk_bench_{secrets.token_hex(8)}",
        PROVIDER_WEBHOOK_SECRET=f"whsec_bench_{secrets.token_hex(8)}",
        STATUS_TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        EVIDENCE_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        WEBHOOK_SECRET_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        STORE_CREDIT_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        PORTAL_CODE_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        SECURE_HTTPS="0",  # plain http on loopback
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    env.update(extra)
    return env


def recreate_database(db_name: str, env: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def start_gunicorn(env: dict[str, str], port: int, workers: int = 2, threads: int = 1) -> subprocess.Popen:
    # As a deploy does: without the static manifest a worker refuses to boot (core/checks.py).
    manage(env, "collectstatic", "--noinput", "-v", "0")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    if not ordered:
        return {}
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "count": len(ordered),
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(ordered[-1], 2),
    }


def write_results(name: str, results: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
