"""Say clearly whether the PostgreSQL and Redis the tests need are answering."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlparse


def check(database_url: str, redis_url: str) -> list[str]:
    problems = []
    try:
        import psycopg

        url = urlparse(database_url)
        psycopg.connect(
            host=url.hostname, port=url.port or 5432, user=url.username or "postgres",
            password=url.password, dbname="postgres", connect_timeout=3,
        ).close()  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - report whatever stops the connection
        problems.append(f"PostgreSQL at {database_url} is not reachable: {exc}")
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"Redis at {redis_url} is not reachable: {exc}")
    return problems


if __name__ == "__main__":
    db = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/refund_desk")
    rd = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    found = check(db, rd)
    for problem in found:
        print(f"ERROR: {problem}", file=sys.stderr)
    if found:
        print(
            "The tests need a real PostgreSQL and Redis; set DATABASE_URL / REDIS_URL or start them.", file=sys.stderr
        )
        sys.exit(3)
    print(f"services OK: {db} and {rd}")
