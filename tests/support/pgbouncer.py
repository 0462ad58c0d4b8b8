"""A real PgBouncer (Debian's /usr/sbin/pgbouncer, `make pgbouncer-deps`) in transaction pooling mode.

It listens on a free port in front of the test PostgreSQL; any database name
is passed through (`* = host=… port=…`), so `url(name)` reaches the session's
test database. `auth_type = any`: the tests' PostgreSQL trusts loopback, and
every client logs in as the one server user.

The pool is small on purpose (`pool_size`, 3 by default): with more clients
than server sessions, consecutive transactions of one client land on
different sessions, and anything that leaks session state across transactions
shows up within a test instead of in production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.live import free_port

BINARY = "/usr/sbin/pgbouncer"


class PgBouncer:
    def __init__(
        self,
        *,
        upstream_host: str = "127.0.0.1",
        upstream_port: int = 5432,
        user: str = "postgres",
        pool_size: int = 3,
        max_client_conn: int = 200,
    ) -> None:
        self.upstream_host, self.upstream_port, self.user = upstream_host, upstream_port, user
        self.pool_size, self.max_client_conn = pool_size, max_client_conn
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={database}"

    def _config(self) -> str:
        log = self.directory / "pgbouncer.log"
        return "\n".join(
            [
                "[databases]",
                f"* = host={self.upstream_host} port={self.upstream_port} user={self.user}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {self.port}",
                "unix_socket_dir =",
                "auth_type = any",
                "pool_mode = transaction",
                f"default_pool_size = {self.pool_size}",
                "min_pool_size = 0",
                "reserve_pool_size = 0",
                f"max_client_conn = {self.max_client_conn}",
                # Not one more server session than the pool: what the test relies on (see the module docstring).
                f"max_db_connections = {self.pool_size}",
                # The admin console (SHOW STATS) for the tests' own checks.
                f"admin_users = {self.user}",
                f"stats_users = {self.user}",
                f"logfile = {log}",
                f"pidfile = {self.directory / 'pgbouncer.pid'}",
                "log_connections = 0",
                "stats_period = 1",
                "log_disconnections = 0",
                "server_reset_query =",
                # Clients wait for a server session rather than fail: a busy pool is slow, not an error.
                "query_wait_timeout = 60",
                "",
            ]
        )

    def start(self) -> PgBouncer:
        if not os.access(BINARY, os.X_OK):
            raise RuntimeError(f"{BINARY} is missing: `make pgbouncer-deps` installs Debian's pgbouncer")
        ini = self.directory / "pgbouncer.ini"
        ini.write_text(self._config())
        args = [BINARY, str(ini)]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root; it drops to `nobody`, which must write its log there.
            self.directory.chmod(0o777)
            args = [BINARY, "-u", "nobody", str(ini)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited {self.process.returncode}: {self.log()[-2000:]}")
            try:
                with psycopg.connect(self.conninfo("pgbouncer"), autocommit=True, connect_timeout=2) as admin:
                    admin.execute("SHOW VERSION")
                return self
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not answer on {self.port}: {self.log()[-2000:]}")

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def show(self, what: str, database: str) -> list[dict]:
        """Rows of the admin console's SHOW <what> (CLIENTS, SERVERS, POOLS, STATS) for one database."""
        with psycopg.connect(self.conninfo("pgbouncer"), autocommit=True) as admin:
            cursor = admin.execute(f"SHOW {what}")
            columns = [c.name for c in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return [row for row in rows if row.get("database") == database]

    def transactions(self, database: str) -> int:
        """Transactions the pooler carried to `database` so far (SHOW STATS, refreshed every second)."""
        return sum(row["total_xact_count"] for row in self.show("STATS", database))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def pgbouncer() -> Iterator[PgBouncer]:
    """A PgBouncer in transaction pooling mode in front of the test PostgreSQL, for the module's tests."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    bouncer = PgBouncer(
        upstream_host=db["HOST"] or "127.0.0.1", upstream_port=int(db["PORT"] or 5432), user=db["USER"] or "postgres"
    ).start()
    yield bouncer
    bouncer.stop()
