"""DATABASES from the environment: the primary, and optionally a pooler, a direct line and a read replica.

One function, so tests/config can check every combination without reloading the settings.
docs/operations.md ("Connection pooling: PgBouncer", "Read replica") says when to use which.

* DATABASE_URL, alias `default`: every write and every read that decides (unset: the demo's SQLite file).
* DATABASE_POOLER=pgbouncer: DATABASE_URL (and DATABASE_REPLICA_URL) is a PgBouncer in transaction
  pooling mode.
* DATABASE_DIRECT_URL, alias `direct`: the same database, never through a pooler, for session state
  (a session advisory lock, LISTEN).
* DATABASE_REPLICA_URL, alias `replica`: a streaming replica, read by the screens and reports that ask
  for it (core.databases.read_alias), nothing else.

Behind PgBouncer in transaction mode consecutive transactions of one client
may run on different server sessions, so nothing may outlive a transaction:
no server-side cursor held across transactions (`.iterator()` outside a
transaction declares one WITH HOLD: DISABLE_SERVER_SIDE_CURSORS makes
Django fetch client-side instead), no prepared statement (psycopg prepares
one after `prepare_threshold` executions; None never does, and Django's
client-side binding cursor is kept), no session SET, session advisory lock,
LISTEN or temp table across transactions. The code keeps each of those inside one
transaction (`set_config(..., true)`, `pg_advisory_xact_lock`, temp tables
dropped before commit) or takes them on `direct` (core.databases.session_alias).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

DEFAULT, DIRECT, REPLICA = "default", "direct", "replica"
POOLERS = ("", "pgbouncer")


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name)
    return int(value) if value not in (None, "") else default


def _parse(url: str, *, conn_max_age: int) -> dict[str, Any]:
    return dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)


def _behind_pgbouncer(database: dict[str, Any]) -> None:
    """What Django needs through PgBouncer in transaction pooling mode (Django's docs, "Transaction pooling")."""
    database["DISABLE_SERVER_SIDE_CURSORS"] = True
    options = database.setdefault("OPTIONS", {})
    # Django's default with psycopg 3 already; said here so no one turns it on: PgBouncer 1.18 cannot
    # carry a prepared statement from one transaction to the next (1.21's max_prepared_statements can).
    options["prepare_threshold"] = None
    if options.get("server_side_binding"):
        raise ImproperlyConfigured("DATABASE_POOLER=pgbouncer: server_side_binding would prepare statements")


def databases(environ: Mapping[str, str], *, var_dir: Path) -> dict[str, dict[str, Any]]:
    """The DATABASES setting for `environ` (os.environ in config/settings/base.py)."""
    conn_max_age = _int(environ, "DB_CONN_MAX_AGE", 60)
    url = environ.get("DATABASE_URL") or f"sqlite:///{var_dir / 'refund_desk.sqlite3'}"
    default = _parse(url, conn_max_age=conn_max_age)
    sqlite = default["ENGINE"] == "django.db.backends.sqlite3"
    if sqlite:
        var_dir.mkdir(parents=True, exist_ok=True)
        # Without a busy timeout the demo's web process and worker would trip over
        # SQLite's single writer lock instead of waiting for it.
        default["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
        default["CONN_MAX_AGE"] = 0
    result = {DEFAULT: default}

    pooler = environ.get("DATABASE_POOLER", "").strip().lower()
    if pooler not in POOLERS:
        raise ImproperlyConfigured(f"DATABASE_POOLER must be one of {', '.join(p for p in POOLERS if p)} (or unset)")
    direct_url = environ.get("DATABASE_DIRECT_URL", "").strip()
    replica_url = environ.get("DATABASE_REPLICA_URL", "").strip()
    if sqlite and (pooler or direct_url or replica_url):
        raise ImproperlyConfigured("DATABASE_POOLER, DATABASE_DIRECT_URL and DATABASE_REPLICA_URL need PostgreSQL")
    if pooler == "pgbouncer":
        # The synthetic run's lock is a session advisory lock (operations.synthetic): through the pooler
        # it would be taken on one server session and released on another. Refused at start, not at 3 a.m.
        if not direct_url:
            raise ImproperlyConfigured(
                "DATABASE_POOLER=pgbouncer needs DATABASE_DIRECT_URL: the same database, not through the pooler"
            )
        _behind_pgbouncer(default)

    if direct_url:
        direct = _parse(direct_url, conn_max_age=conn_max_age)
        # The same database as default: the tests point it at default's test database, never create one.
        direct["TEST"] = {"MIRROR": DEFAULT}
        result[DIRECT] = direct
    if replica_url:
        replica = _parse(replica_url, conn_max_age=conn_max_age)
        if pooler == "pgbouncer":
            # A replica is usually reached through a pooler of its own, in the same mode.
            _behind_pgbouncer(replica)
        replica["TEST"] = {"MIRROR": DEFAULT}
        result[REPLICA] = replica
    return result
